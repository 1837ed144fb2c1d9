// 10_pi_montecarlo/client.cpp: a worker of the Monte Carlo estimate of pi.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slide "Summary + Assignments", assignment 3:
// the worker takes a (samples, seed) job, counts the samples inside the quarter disk with the generator of
// montecarlo.hpp, and returns the count.
//
// Watch for: the worker may start before the manager (it retries connecting for --retry seconds), and it
// leaves quietly (exit 0) when the manager says BYE or goes away; anything it does not understand from the
// manager ends it with status 1.
//
// Usage: ./client [HOST] [PORT] [--retry SECONDS] [--delay-ms MS] [--verbose]
// See also: server.cpp (the manager), montecarlo.hpp (the generator and the protocol), netutil/workers.hpp
// (connecting with retries, and the conversation's frame: HELLO, BYE, error:, EOF; shared with 09_mandelbrot).
#include "montecarlo.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/text.hpp"
#include "netutil/workers.hpp"

#include <cstdio>
#include <optional>
#include <string>
#include <thread>

namespace {

constexpr int kDefaultPort = 11269;

const char* const kAbout =
    "Worker of the pi manager (lecture: assignment 3): connects, takes (samples, seed) jobs, returns\n"
    "how many samples fell inside the quarter disk, until the manager says BYE. Exits 0 at BYE or when\n"
    "the manager goes away, 1 on anything that is not the protocol (lines over 200 bytes included).";

}  // namespace

int main(int argc, char** argv) {
    const netutil::WorkerOptions options = netutil::parse_worker_options(
        argc, argv, kAbout, kDefaultPort, "sleep this long before each job (a slow worker, to kill it mid-job)",
        "print a line as each job arrives");

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        const netutil::UniqueFd manager = netutil::connect_to_manager(options);  // retried for --retry seconds
        int jobs = 0;
        uint64_t samples_done = 0;
        double busy = 0;
        auto summary = [&] {
            char seconds[32];
            std::snprintf(seconds, sizeof seconds, "%.3f", busy);
            return netutil::count(jobs, "job") + ", " + netutil::count(samples_done, "sample") + ", busy " + seconds +
                   " s computing";
        };
        // After HELLO, one JOB line at a time, answered with its RESULT, until BYE (netutil handles HELLO, BYE,
        // error: lines and the manager going away).
        auto run_job = [&](const std::string& line) -> std::optional<std::string> {
            const auto job = montecarlo::parse_job_line(line);
            if (!job) return std::nullopt;
            if (options.verbose) netutil::print_line("working on job " + std::to_string(job->number));
            if (options.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.delay_ms));
            const netutil::Stopwatch watch;
            const uint64_t inside = montecarlo::count_inside(job->samples, job->seed);
            busy += watch.seconds();
            ++jobs;
            samples_done += job->samples;
            return montecarlo::result_line({job->number, job->samples, inside}) + "\n";
        };
        return netutil::work_for_manager(manager.get(), montecarlo::kHello, montecarlo::kMaxLine,
                                         options.timeout_seconds, run_job, summary);
    });
}
