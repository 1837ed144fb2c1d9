// 09_mandelbrot/client.cpp: a worker of the Mandelbrot computation.
//
// Mirrors: seeds/01_lecture_multithreaded_servers.txt, "Manager/Worker Paradigm": "A client receives the
// column number from the server and returns a list of grayscales for each row."
//
// Watch for: the worker may start before the manager (it retries connecting for --retry seconds), and it
// leaves quietly (exit 0) when the manager says BYE or goes away; anything it does not understand from the
// manager ends it with status 1.
//
// Usage: ./client [HOST] [PORT] [--retry SECONDS] [--delay-ms MS] [--verbose]
// See also: server.cpp (the manager), mandelbrot.hpp (the computation and the protocol).
#include "mandelbrot.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <cerrno>
#include <thread>

namespace {

// The manager may not be listening yet: connection refused is retried until the deadline.
netutil::UniqueFd connect_with_retry(const std::string& host, uint16_t port, int retry_seconds) {
    const netutil::Stopwatch waited;
    bool said = false;
    for (;;) {
        try {
            return netutil::tcp_connect(host, port);
        } catch (const std::system_error& error) {
            const int code = error.code().value();
            const bool retry = code == ECONNREFUSED || code == ETIMEDOUT || code == ECONNRESET;
            if (!retry || waited.seconds() >= retry_seconds) throw;
            if (!said) netutil::print_line("manager not there yet: retrying for " + std::to_string(retry_seconds) + " s");
            said = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

// The manager's side went away: EOF, or a reset/broken pipe when we write.
bool manager_gone(const std::system_error& error) {
    const int code = error.code().value();
    return code == EPIPE || code == ECONNRESET;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Worker of the Mandelbrot manager (lecture: manager/worker paradigm): connects, receives column\n"
                 "numbers, returns each column's grayscales 255 - k, until the manager says BYE. Exits 0 at BYE or when\n"
                 "the manager goes away, 1 on anything that is not the protocol (lines over 200 bytes included)."};
    std::string host = "localhost";
    int port = 11268;
    int retry_seconds = 10;
    int delay_ms = 0;
    int timeout_seconds = 600;
    bool verbose = false;
    app.add_option("HOST", host, "manager to connect to")->capture_default_str();
    app.add_option("PORT", port, "manager port")->capture_default_str()->check(netutil::kPortRange);
    app.add_option("--retry", retry_seconds, "seconds to keep retrying while the manager is not listening yet")
        ->capture_default_str()->check(CLI::Range(0, 3600));
    app.add_option("--delay-ms", delay_ms, "sleep this long before each column (a slow worker, to watch the "
                   "schedule or kill it mid-run)")->capture_default_str()->check(CLI::Range(0, 60000));
    app.add_option("--timeout", timeout_seconds, "seconds to wait for the manager's next message (it waits for "
                   "the other workers first) before giving up")->capture_default_str()->check(CLI::Range(1, 86400));
    app.add_flag("-v,--verbose", verbose, "print a line per column");
    netutil::parse_or_exit(app, argc, argv);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        const netutil::UniqueFd manager = connect_with_retry(host, static_cast<uint16_t>(port), retry_seconds);
        netutil::print_line("worker connected to " + host + ":" + std::to_string(port));
        int columns = 0;
        uint64_t iterations = 0;
        double busy = 0;
        auto summary = [&] {
            return std::to_string(columns) + " columns, " + std::to_string(iterations) + " iterations, busy " +
                   std::to_string(busy).substr(0, std::to_string(busy).find('.') + 4) + " s";
        };
        std::string line;
        try {
            netutil::write_all(manager.get(), std::string(mandelbrot::kHello) + "\n");
            netutil::LineReader reader(manager.get(), mandelbrot::kMaxLine, -1, timeout_seconds * 1000);
            std::optional<mandelbrot::Canvas> canvas;
            std::vector<uint8_t> gray;
            for (;;) {
                const auto status = reader.read_line(line);
                if (status == netutil::LineReader::Status::Eof) {
                    netutil::print_line("manager closed the connection: " + summary());
                    return 0;
                }
                if (status == netutil::LineReader::Status::TimedOut)
                    throw std::runtime_error("the manager said nothing for " + std::to_string(timeout_seconds) + " s");
                if (status != netutil::LineReader::Status::Line)
                    throw std::runtime_error("the manager sent a broken line");
                if (line.rfind("error:", 0) == 0) throw std::runtime_error("the manager said " + netutil::quote(line));
                if (line == "BYE") {
                    netutil::print_line("manager says BYE: " + summary());
                    return 0;
                }
                if (!canvas) {
                    canvas = mandelbrot::parse_canvas_line(line);
                    if (!canvas) break;
                    gray.resize(static_cast<size_t>(canvas->height));
                    netutil::print_line("canvas " + std::to_string(canvas->width) + "x" + std::to_string(canvas->height));
                    continue;
                }
                const auto column = mandelbrot::parse_column_line(line, canvas->width);
                if (!column) break;
                if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
                const netutil::Stopwatch watch;
                const uint64_t column_iterations = mandelbrot::compute_column(*canvas, *column, gray.data());
                busy += watch.seconds();
                const std::string header = mandelbrot::pixels_line({*column, column_iterations}) + "\n";
                netutil::write_all(manager.get(), header + std::string(gray.begin(), gray.end()));
                ++columns;
                iterations += column_iterations;
                if (verbose) netutil::print_line("computed column " + std::to_string(*column));
            }
        } catch (const std::system_error& error) {
            if (!manager_gone(error)) throw;
            netutil::print_line("manager closed the connection: " + summary());
            return 0;
        }
        try {
            netutil::write_all(manager.get(), "error: unexpected " + netutil::quote(line) + "\n");
        } catch (const std::system_error&) {
        }
        throw std::runtime_error("the manager sent " + netutil::quote(line) + ", which is not the protocol");
    });
}
