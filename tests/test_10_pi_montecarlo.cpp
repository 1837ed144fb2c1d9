// Tests of lab 10_pi_montecarlo, run as a user runs it: the real ./server (the manager) and ./client (the workers).
//
// Slides: the lecture "Multithreaded Servers" (lecture 32), slide "Summary + Assignments", assignment 3
// (estimate pi with a job queue of (samples, seed) tuples), and slide "Manager/Worker Paradigm"; the lecture
// "Client-server architecture model: with sockets and multiprocessing in Python", slide "Considerations"
// ("What happens when something goes wrong?").
// Suite: Lab10PiMonteCarlo (the estimate, the per-job results, a worker killed mid-job, bad peers, wrong
// results, no worker left, Ctrl-C, usage). The fault tests of this lab are Lab10/FaultsManager in
// test_faults_workers.cpp, the MPI version's Lab10/MpiPi, Lab10/MpiUsage and Lab10MpiUsage in test_mpi.cpp.
// Demo: ./server 11269 2, then ./client twice.
// What to watch for: the estimate depends only on the jobs: the same for 1, 2 or 4 workers and for --local,
// and equal to what the generator spelled out in the README gives (recomputed here independently); a job
// lost with its worker is redone and counted once; bad peers are turned away.
#include "tests/harness.hpp"
#include "tests/worker_helpers.hpp"

#include "10_pi_montecarlo/montecarlo.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <deque>
#include <regex>
#include <set>

using namespace harness;
using worker_helpers::with;

namespace {

const std::string kServer = program("10_pi_montecarlo", "server");
const std::string kClient = program("10_pi_montecarlo", "client");

std::vector<std::string> worker_args(uint16_t port, const std::vector<std::string>& more = {}) {
    return worker_helpers::worker_argv(kClient, port, more);
}

// The README's generator, written out again from its description: SplitMix64, one draw per sample, X the
// high and Y the low 32 bits, inside when (2X+1)^2 + (2Y+1)^2 <= 2^66.
uint64_t readme_count_inside(uint64_t samples, uint64_t seed) {
    uint64_t state = seed, inside = 0;
    for (uint64_t i = 0; i < samples; ++i) {
        state += 0x9E3779B97F4A7C15ULL;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        const unsigned __int128 x = 2 * (z >> 32) + 1, y = 2 * (z & 0xFFFFFFFFULL) + 1;
        if (x * x + y * y <= (static_cast<unsigned __int128>(1) << 66)) ++inside;
    }
    return inside;
}

// "estimate of pi 3.1415... (H of N samples inside, J jobs)"
std::string estimate_line(const std::string& out) {
    std::smatch match;
    static const std::regex estimate("estimate of pi [^\n]*");
    return std::regex_search(out, match, estimate) ? match[0].str() : "missing";
}

const std::vector<std::string> kJobs = {"--jobs", "6", "--samples", "200000", "--seed", "42"};

// The manager's output for a run of `jobs` with `nworkers` real workers.
std::string run_with_workers(int nworkers, const std::vector<std::string>& jobs) {
    return worker_helpers::run_with_workers(with({kServer, "0", std::to_string(nworkers)}, jobs), kClient, nworkers);
}

// Every "job J (...) by worker T: ..." line: the job numbers seen, each must appear once.
std::multiset<int> jobs_reported(const std::string& out) {
    std::multiset<int> jobs;
    static const std::regex job("job (\\d+) \\(\\d+ samples, seed \\d+\\) by worker \\d+: \\d+ inside, pi ~ [0-9.]+");
    for (const auto& line : lines(out)) {
        std::smatch match;
        if (std::regex_match(line, match, job)) jobs.insert(std::stoi(match[1].str()));
    }
    return jobs;
}

}  // namespace

// The estimate is the same for 1, 2 and 4 workers and for --local, and it is exactly what the generator
// described in the README gives.
TEST(Lab10PiMonteCarlo, EstimateIndependentOfWorkersAndEqualToLocal) {
    const Result local = run(with({kServer, "--local"}, kJobs), "", scaled(30s));
    ASSERT_EQ(local.status, 0) << local.err;
    uint64_t inside = 0;
    for (int j = 0; j < 6; ++j) inside += readme_count_inside(200000, 42 + static_cast<uint64_t>(j));
    char expected[128];
    std::snprintf(expected, sizeof expected, "estimate of pi %.10f (%llu of 1200000 samples inside, 6 jobs)",
                  4.0 * static_cast<double>(inside) / 1200000.0, static_cast<unsigned long long>(inside));
    EXPECT_EQ(estimate_line(local.out), expected);
    EXPECT_NE(local.out.find("\nerror "), std::string::npos);
    EXPECT_NE(local.out.find(" samples/s"), std::string::npos);
    for (const int nworkers : {1, 2, 4}) {
        SCOPED_TRACE(std::to_string(nworkers) + " workers");
        const std::string out = run_with_workers(nworkers, kJobs);
        EXPECT_EQ(estimate_line(out), expected);
        EXPECT_EQ(jobs_reported(out), (std::multiset<int>{0, 1, 2, 3, 4, 5})) << out;
        EXPECT_NE(out.find("\nerror "), std::string::npos);
        EXPECT_TRUE(std::regex_search(out, std::regex("wall time [0-9.]+ s, [0-9.e+]+ samples/s")));
    }
}

// Each result is printed as it arrives, with the job's tuple; the seeds are --seed + j.
TEST(Lab10PiMonteCarlo, ResultsPrintedPerJobWithTheirTuples) {
    Process server({kServer, "0", "1", "--jobs", "3", "--samples", "1000", "--seed", "7"});
    const uint16_t port = server.wait_for_listening();
    ASSERT_TRUE(server.wait_for_line("manager waits for 1 worker: 3 jobs of 1000 samples, seeds 7 to 9"));
    Process worker(worker_args(port, {"--verbose"}));
    for (int j = 0; j < 3; ++j) {
        const uint64_t inside = readme_count_inside(1000, 7 + static_cast<uint64_t>(j));
        char line[128];
        std::snprintf(line, sizeof line, "job %d (1000 samples, seed %d) by worker 0: %llu inside, pi ~ %.6f", j, 7 + j,
                      static_cast<unsigned long long>(inside), 4.0 * static_cast<double>(inside) / 1000.0);
        EXPECT_TRUE(server.wait_for_line(line));
        EXPECT_TRUE(worker.wait_for_line("working on job " + std::to_string(j)));
    }
    EXPECT_EQ(worker.wait_exit(), 0);
    EXPECT_EQ(server.wait_exit(), 0);
}

// A worker killed while it holds a job: the job goes back to the queue, another worker does it, and it is
// counted once: the estimate is unchanged.
TEST(Lab10PiMonteCarlo, WorkerKilledMidJobLosesNothing) {
    const Result local = run(with({kServer, "--local"}, kJobs), "", scaled(30s));
    Process server(with({kServer, "0", "2"}, kJobs));
    const uint16_t port = server.wait_for_listening();
    Process steady(worker_args(port, {"--delay-ms", "20"}), {.name = "steady worker"});
    ASSERT_TRUE(server.wait_for_text("worker 0 connected from"));
    Process doomed(worker_args(port, {"--delay-ms", "5000", "--verbose"}), {.name = "doomed worker"});
    const auto holding = doomed.wait_for_match(std::regex("working on job \\d+"), scaled(10s));
    ASSERT_TRUE(holding);
    const std::string job = holding->substr(std::string("working on job ").size());
    doomed.signal(SIGKILL);
    // "connection closed", or a reset when the job sent ahead (--prefetch) still waited unread in its socket.
    ASSERT_TRUE(server.wait_for_match(std::regex("worker 1 lost \\(.*\\): job " + job + " goes back to the queue"),
                                      scaled(10s)));
    EXPECT_EQ(steady.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    server.wait_output_closed();
    EXPECT_EQ(estimate_line(server.out()), estimate_line(local.out));
    EXPECT_EQ(jobs_reported(server.out()), (std::multiset<int>{0, 1, 2, 3, 4, 5})) << "every job counted once";
    EXPECT_EQ(server.count_matching(std::regex("job " + job + " .* by worker 0: .*")), 1u);
}

TEST(Lab10PiMonteCarlo, NoWorkerLeftExitsNonZero) {
    Process server(with({kServer, "0", "1"}, kJobs));
    const uint16_t port = server.wait_for_listening();
    Process only(worker_args(port, {"--delay-ms", "5000", "--verbose"}));
    ASSERT_TRUE(only.wait_for_text("working on job 0", scaled(10s)));
    only.signal(SIGKILL);
    EXPECT_EQ(server.wait_exit(scaled(10s)), 1);
    EXPECT_TRUE(server.wait_for_err_text("no worker left: 6 of 6 jobs not done, no estimate"));
    EXPECT_EQ(estimate_line(server.out()), "missing");
}

// Connections that do not speak the protocol are turned away with one error line and never count as
// workers; one real worker then does every job.
TEST(Lab10PiMonteCarlo, BadPeersAreTurnedAway) {
    Process server(with({kServer, "0", "1"}, kJobs));
    const uint16_t port = server.wait_for_listening();
    for (const std::string garbage : {"GET / HTTP/1.0\r\n\r\n", "HELLO mandelbrot 1\n", "HELLO pi 2\n"}) {
        Connection peer(port);
        peer.send(garbage);
        EXPECT_EQ(peer.read_line(scaled(5s)), "error: expected HELLO pi 1");
        EXPECT_TRUE(peer.wait_closed(scaled(5s)));
        ASSERT_TRUE(server.wait_for_text("turned away 127.0.0.1:" + std::to_string(peer.local_port()) + ": sent "));
    }
    worker_helpers::expect_silent_peer_then_one_worker(server, port, kClient);
    server.wait_output_closed();
    EXPECT_EQ(jobs_reported(server.out()).size(), 6u);
}

// A worker that says HELLO and then returns a wrong result (another job, more inside than samples, another
// sample count, not a number) is dropped; its job goes back and is counted once, from the honest worker.
TEST(Lab10PiMonteCarlo, WrongResultsAreRejectedAndRedone) {
    const Result local = run(with({kServer, "--local"}, kJobs), "", scaled(30s));
    for (const std::string bad :
         {"RESULT 99 200000 1", "RESULT J 200000 200001", "RESULT J 100 50", "RESULT J 200000 x", "PIXELS 0 0"}) {
        SCOPED_TRACE(bad);
        Process server(with({kServer, "0", "2"}, kJobs));
        const uint16_t port = server.wait_for_listening();
        Connection fake(port);
        fake.send("HELLO pi 1\n");
        ASSERT_TRUE(server.wait_for_text("worker 0 connected from"));
        Process honest(worker_args(port, {"--delay-ms", "10"}));
        const auto job = fake.read_line(scaled(10s));
        ASSERT_TRUE(job && std::regex_match(*job, std::regex("JOB \\d+ 200000 \\d+"))) << job.value_or("nothing");
        const std::string number = job->substr(4, job->find(' ', 4) - 4);
        std::string reply = bad;
        if (const auto j = reply.find(" J "); j != std::string::npos) reply.replace(j + 1, 1, number);
        fake.send(reply + "\n");
        ASSERT_TRUE(server.wait_for_match(
            std::regex("worker 0 lost \\(.*\\): job " + number + " goes back to the queue"), scaled(10s)));
        EXPECT_TRUE(fake.wait_closed(scaled(5s)));
        EXPECT_EQ(honest.wait_exit(scaled(20s)), 0);
        EXPECT_EQ(server.wait_exit(scaled(20s)), 0);
        server.wait_output_closed();
        EXPECT_EQ(estimate_line(server.out()), estimate_line(local.out));
        EXPECT_EQ(jobs_reported(server.out()), (std::multiset<int>{0, 1, 2, 3, 4, 5}));
    }
}

// The worker checks the manager too: a job it cannot run is refused with status 1.
TEST(Lab10PiMonteCarlo, WorkerRejectsABadManager) {
    for (const std::string bad : {"JOB 0 0 1", "JOB -1 10 1", "JOB 0 10 -5", "JOB 0 10", "COLUMN 3"})
        worker_helpers::expect_worker_rejects(kClient, "HELLO pi 1", bad);
}

// Workers may start before the manager: they retry connecting for --retry seconds.
TEST(Lab10PiMonteCarlo, WorkerStartedBeforeTheManagerJoinsLater) {
    const uint16_t port = worker_helpers::free_manager_port(kServer);
    const auto early = worker_helpers::early_worker(kClient, port);
    Process server(with({kServer, std::to_string(port), "1"}, kJobs));
    ASSERT_EQ(server.wait_for_listening(), port);
    EXPECT_EQ(early->wait_exit(scaled(20s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(20s)), 0);
}

// Ctrl-C of the manager mid-run: it exits 0 within seconds with no estimate; the workers exit 0.
TEST(Lab10PiMonteCarlo, CtrlCStopsManagerAndWorkersCleanly) {
    worker_helpers::expect_stopped_mid_run(
        with({kServer, "0", "2"}, kJobs), kClient, "300", std::regex("working on job \\d+"), SIGINT, true,
        std::regex("manager stopped by SIGINT: \\d of 6 jobs were done, no estimate"));
}

TEST(Lab10PiMonteCarlo, UsageErrorsExit2) {
    worker_helpers::expect_usage_errors(
        kServer, {{"--jobs", "0"}, {"--samples", "0"}, {"--samples", "-3"}, {"--seed", "x"}, {"0", "0"}},
        {"--jobs", "16", "--samples", "10000000", "--seed", "--local", "11269", "--hello-timeout", "--reply-timeout",
         "SIGHUP"});
}

namespace {

const std::vector<std::string> kEightJobs = {"--jobs", "8", "--samples", "2000", "--seed", "42"};

// The test plays the worker on `c`: reads the next line, which must be a JOB; returns it parsed.
std::optional<montecarlo::Job> read_job(Connection& c) {
    const auto line = c.read_line(scaled(10s));
    if (!line) return std::nullopt;
    return montecarlo::parse_job_line(*line);
}
std::string result_for(const montecarlo::Job& job) {
    return montecarlo::result_line({job.number, job.samples, montecarlo::count_inside(job.samples, job.seed)}) + "\n";
}

}  // namespace

// --prefetch K: the manager sends K jobs before it reads the first result, then one more per result, never
// more than K out. With 1, one job at a time. The test plays the only worker and answers nothing at first.
TEST(Lab10PiMonteCarlo, PrefetchKeepsKJobsOutBeforeAnyResult) {
    const Result local = run(with({kServer, "--local"}, kEightJobs), "", scaled(30s));
    for (const int k : {1, 3}) {
        SCOPED_TRACE("--prefetch " + std::to_string(k));
        Process server(with({kServer, "0", "1", "--prefetch", std::to_string(k)}, kEightJobs));
        const uint16_t port = server.wait_for_listening();
        Connection fake(port);
        fake.send("HELLO pi 1\n");
        std::deque<montecarlo::Job> out;
        for (int i = 0; i < k; ++i) {
            const auto job = read_job(fake);
            ASSERT_TRUE(job) << "job " << i << " of " << k << " not sent before any result";
            EXPECT_EQ(job->number, i);
            out.push_back(*job);
        }
        EXPECT_FALSE(fake.read_line(300ms)) << "more than " << k << " jobs out";
        fake.send(result_for(out.front()));
        out.pop_front();
        const auto next = read_job(fake);
        ASSERT_TRUE(next) << "no job sent for the result";
        EXPECT_EQ(next->number, k);
        out.push_back(*next);
        EXPECT_FALSE(fake.read_line(300ms)) << "more than one job sent for one result";
        // The rest of the run: the jobs out answered, then each new one as it comes, until BYE.
        for (const auto& held : out) fake.send(result_for(held));
        for (;;) {
            const auto line = fake.read_line(scaled(10s));
            ASSERT_TRUE(line);
            if (*line == "BYE") break;
            const auto job = montecarlo::parse_job_line(*line);
            ASSERT_TRUE(job) << *line;
            fake.send(result_for(*job));
        }
        EXPECT_EQ(server.wait_exit(scaled(20s)), 0);
        server.wait_output_closed();
        EXPECT_EQ(estimate_line(server.out()), estimate_line(local.out));
        EXPECT_EQ(jobs_reported(server.out()), (std::multiset<int>{0, 1, 2, 3, 4, 5, 6, 7}));
    }
}

// A worker lost with K jobs out: all K go back to the front of the queue (the first named on the "lost" line,
// the ones sent ahead on a line each), the other worker does them, each counted once, the estimate unchanged.
TEST(Lab10PiMonteCarlo, WorkerLostWithJobsAheadLosesNothing) {
    const Result local = run(with({kServer, "--local"}, kEightJobs), "", scaled(30s));
    Process server(with({kServer, "0", "2", "--prefetch", "3"}, kEightJobs));
    const uint16_t port = server.wait_for_listening();
    Connection fake(port);
    fake.send("HELLO pi 1\n");
    ASSERT_TRUE(server.wait_for_text("worker 0 connected from"));
    Process steady(worker_args(port, {"--delay-ms", "20"}), {.name = "steady worker"});
    std::vector<int> held;
    for (int i = 0; i < 3; ++i) {
        const auto job = read_job(fake);
        ASSERT_TRUE(job);
        held.push_back(job->number);
    }
    fake.close();
    ASSERT_TRUE(server.wait_for_line(
        "worker 0 lost (connection closed): job " + std::to_string(held[0]) + " goes back to the queue", scaled(10s)));
    for (size_t i = 1; i < held.size(); ++i)
        EXPECT_TRUE(server.wait_for_line("job " + std::to_string(held[i]) +
                                         ", sent ahead to worker 0, goes back to the queue too"));
    EXPECT_EQ(steady.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    server.wait_output_closed();
    EXPECT_EQ(estimate_line(server.out()), estimate_line(local.out));
    EXPECT_EQ(jobs_reported(server.out()), (std::multiset<int>{0, 1, 2, 3, 4, 5, 6, 7})) << "every job counted once";
    for (const int job : held)
        EXPECT_EQ(server.count_matching(std::regex("job " + std::to_string(job) + " .* by worker 1: .*")), 1u);
}

TEST(Lab10PiMonteCarlo, PrefetchUsageErrorsExit2) {
    worker_helpers::expect_usage_errors(kServer, {{"--prefetch", "0"}, {"--prefetch", "x"}, {"--prefetch", "65"}},
                                        {"--prefetch", "round trip"});
}
