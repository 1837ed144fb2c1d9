// 09_mandelbrot/client.cpp: a worker of the Mandelbrot computation.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slide "Manager/Worker Paradigm": "A client receives
// the column number from the server and returns a list of grayscales for each row."
//
// Watch for: the worker may start before the manager (it retries connecting for --retry seconds), and it
// leaves quietly (exit 0) when the manager says BYE or goes away; anything it does not understand from the
// manager ends it with status 1.
//
// Usage: ./client [HOST] [PORT] [--retry SECONDS] [--delay-ms MS] [--verbose]
// See also: server.cpp (the manager), mandelbrot.hpp (the computation and the protocol), netutil/workers.hpp
// (connecting with retries, and the conversation's frame: HELLO, BYE, error:, EOF; shared with 10_pi_montecarlo).
#include "mandelbrot.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/text.hpp"
#include "netutil/workers.hpp"

#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kDefaultPort = 11268;

const char* const kAbout =
    "Worker of the Mandelbrot manager (lecture: manager/worker paradigm): connects, receives column\n"
    "numbers, returns each column's grayscales 255 - k, until the manager says BYE. Exits 0 at BYE or when\n"
    "the manager goes away, 1 on anything that is not the protocol (lines over 200 bytes included).";

}  // namespace

int main(int argc, char** argv) {
    const netutil::WorkerOptions options = netutil::parse_worker_options(
        argc, argv, kAbout, kDefaultPort,
        "sleep this long before each column (a slow worker, to watch the schedule or kill it mid-run)",
        "print a line per column");
    // What the manager has said and what this worker has done: the canvas comes first, then the columns.
    std::optional<mandelbrot::Canvas> canvas;
    std::vector<uint8_t> gray;
    int columns = 0;
    uint64_t iterations = 0;
    double busy = 0;

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        // The manager may not be listening yet: connection refused is retried for --retry seconds.
        const netutil::UniqueFd manager = netutil::connect_to_manager(options);
        // After HELLO: the CANVAS line first, then COLUMN K for each column to compute, until BYE (netutil
        // handles HELLO, BYE, error: lines and the manager going away).
        auto work = [&](const std::string& line) -> std::optional<std::string> {
            if (!canvas) {
                canvas = mandelbrot::parse_canvas_line(line);
                if (!canvas) return std::nullopt;
                gray.resize(static_cast<size_t>(canvas->height));
                netutil::print_line("canvas " + std::to_string(canvas->width) + "x" + std::to_string(canvas->height));
                return "";  // nothing to answer
            }
            const auto column = mandelbrot::parse_column_line(line, canvas->width);
            if (!column) return std::nullopt;
            if (options.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.delay_ms));
            const netutil::Stopwatch watch;
            const uint64_t column_iterations = mandelbrot::compute_column(*canvas, *column, gray.data());
            busy += watch.seconds();
            ++columns;
            iterations += column_iterations;
            if (options.verbose) netutil::print_line("computed column " + std::to_string(*column));
            // The answer: the PIXELS line, then the column's bytes (netutil sends it, with the next ones when
            // more columns already wait here: see work_for_manager).
            return mandelbrot::pixels_line({*column, column_iterations}) + "\n" + std::string(gray.begin(), gray.end());
        };
        auto summary = [&] {
            return netutil::count(columns, "column") + ", " + netutil::count(iterations, "iteration") + ", busy " +
                   std::to_string(busy).substr(0, std::to_string(busy).find('.') + 4) + " s computing";
        };
        return netutil::work_for_manager(manager.get(), mandelbrot::kHello, mandelbrot::kMaxLine,
                                         options.timeout_seconds, work, summary);
    });
}
