// 10_pi_montecarlo/client.cpp: a worker of the Monte Carlo estimate of pi.
//
// Mirrors: seeds/01_lecture_multithreaded_servers.txt, assignment 3: the worker takes a (samples, seed) job,
// counts the samples inside the quarter disk with the generator of montecarlo.hpp, and returns the count.
//
// Watch for: the worker may start before the manager (it retries connecting for --retry seconds), and it
// leaves quietly (exit 0) when the manager says BYE or goes away; anything it does not understand from the
// manager ends it with status 1.
//
// Usage: ./client [HOST] [PORT] [--retry SECONDS] [--delay-ms MS] [--verbose]
// See also: server.cpp (the manager), montecarlo.hpp (the generator and the protocol).
#include "montecarlo.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <cerrno>
#include <cstdio>
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

bool manager_gone(const std::system_error& error) {
    const int code = error.code().value();
    return code == EPIPE || code == ECONNRESET;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Worker of the pi manager (lecture: assignment 3): connects, takes (samples, seed) jobs, returns\n"
                 "how many samples fell inside the quarter disk, until the manager says BYE. Exits 0 at BYE or when\n"
                 "the manager goes away, 1 on anything that is not the protocol (lines over 200 bytes included)."};
    std::string host = "localhost";
    int port = 11269;
    int retry_seconds = 10;
    int delay_ms = 0;
    int timeout_seconds = 600;
    bool verbose = false;
    app.add_option("HOST", host, "manager to connect to")->capture_default_str();
    app.add_option("PORT", port, "manager port")->capture_default_str()->check(netutil::kPortRange);
    app.add_option("--retry", retry_seconds, "seconds to keep retrying while the manager is not listening yet")
        ->capture_default_str()->check(CLI::Range(0, 3600));
    app.add_option("--delay-ms", delay_ms, "sleep this long before each job (a slow worker, to kill it mid-job)")
        ->capture_default_str()->check(CLI::Range(0, 60000));
    app.add_option("--timeout", timeout_seconds, "seconds to wait for the manager's next message (it waits for "
                   "the other workers first) before giving up")->capture_default_str()->check(CLI::Range(1, 86400));
    app.add_flag("-v,--verbose", verbose, "print a line as each job arrives");
    netutil::parse_or_exit(app, argc, argv);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        const netutil::UniqueFd manager = connect_with_retry(host, static_cast<uint16_t>(port), retry_seconds);
        netutil::print_line("worker connected to " + host + ":" + std::to_string(port));
        int jobs = 0;
        uint64_t samples_done = 0;
        double busy = 0;
        auto summary = [&] {
            char text[128];
            std::snprintf(text, sizeof text, "%d jobs, %llu samples, busy %.3f s", jobs,
                          static_cast<unsigned long long>(samples_done), busy);
            return std::string(text);
        };
        std::string line;
        try {
            netutil::write_all(manager.get(), std::string(montecarlo::kHello) + "\n");
            netutil::LineReader reader(manager.get(), montecarlo::kMaxLine, -1, timeout_seconds * 1000);
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
                const auto job = montecarlo::parse_job_line(line);
                if (!job) break;
                if (verbose) netutil::print_line("working on job " + std::to_string(job->number));
                if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
                const netutil::Stopwatch watch;
                const uint64_t inside = montecarlo::count_inside(job->samples, job->seed);
                busy += watch.seconds();
                netutil::write_all(manager.get(), montecarlo::result_line({job->number, job->samples, inside}) + "\n");
                ++jobs;
                samples_done += job->samples;
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
