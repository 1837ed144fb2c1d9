// 10_pi_montecarlo/server.cpp: the manager of a Monte Carlo estimate of pi, with a job queue.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slide "Summary + Assignments", assignment 3:
// "Use a multithreaded server to estimate pi counting the number of samples (x, y) in [0, 1] x [0, 1]:
// x^2 + y^2 <= 1. The job queue maintained by the server is a list of tuples. Each tuple contains the number
// of samples and the seed for the random number generator." And the slide "Manager/Worker Paradigm", with
// the closing questions of the lecture "Client-server architecture model: with sockets and multiprocessing
// in Python", slide "Considerations" ("What happens when something goes wrong?"): a worker that dies mid-job
// loses nothing, the job goes back to the queue, and no job is ever counted twice.
//
// The slide's steps are in run_manager(): the accept loop (one handler thread per connection while workers
// are missing), the handler's hand-out of jobs (hand_out_jobs), and the estimate at the end.
//
// Watch for: each job's result is printed as it arrives, in whatever order the workers finish; the estimate
// only depends on the jobs (their samples and seeds), so it is the same for 1, 2 or 8 workers and for --local.
//
// Demo (three terminals):
//   ./server 11269 2            the manager waits for 2 workers
//   ./client                    worker 0
//   ./client                    worker 1; the jobs go out, the results come back, the estimate is printed
// See also: client.cpp (the worker), montecarlo.hpp (the generator and the protocol), options.hpp (the job
// options, shared with mpi.cpp), ../09_mandelbrot/manager.hpp (the door, the handler threads, the handshake
// and the roster of workers, shared with 09_mandelbrot).
#include "montecarlo.hpp"
#include "options.hpp"

#include "09_mandelbrot/manager.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <cmath>
#include <cstdio>
#include <deque>
#include <numbers>
#include <vector>

namespace {

constexpr uint16_t kDefaultPort = 11269;
// Jobs out at each worker at once (--prefetch): 2 hides the round trip between jobs, measured (README.md, "Costs
// of the design"); more would only hand the last jobs out less evenly.
constexpr int kJobsOut = 2;

using montecarlo::Job;
using montecarlo::JobOptions;

// The command line (parse_settings, below main).
struct Settings {
    manager::ManagerSettings common{.port = kDefaultPort, .reply_timeout = 600};  // PORT, NWORKERS, timeouts, --bind
    JobOptions jobs;
    bool local = false;
};
Settings parse_settings(int argc, char** argv);

struct WorkerStats {
    int jobs = 0;
    uint64_t samples = 0;
    double busy_seconds = 0;
    bool lost = false;
};

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

// The job queue of the assignment: (samples, seed) tuples waiting, out at a worker, or done. A job counts
// once, when its result comes back checked; a lost worker's job goes back to the front of the queue.
// Its roster of workers (who joined, who is still there, how many jobs are left) holds the mutex that guards
// this queue's state too; every member may be called from any thread.
class JobQueue {
public:
    JobQueue(int njobs, uint64_t samples, uint64_t base_seed, int nworkers, const netutil::RunEvents& events)
        : roster_(nworkers, njobs, events, [this] { start_locked(); }),
          stats_(static_cast<size_t>(nworkers)),
          inside_(static_cast<size_t>(njobs)),
          done_(static_cast<size_t>(njobs), false) {
        for (int j = 0; j < njobs; ++j) waiting_.push_back({j, samples, montecarlo::job_seed(base_seed, j)});
        jobs_ = std::vector<Job>(waiting_.begin(), waiting_.end());
    }

    // The next job from the front of the queue. Waits while jobs are out at other workers (one of them may
    // die and give its jobs back); std::nullopt when every job is done or the run is over, or (wait false) when
    // no job is waiting right now.
    std::optional<Job> next(bool wait) {
        // BEGIN SOLUTION 10.1 "the next job from the queue"
        auto lock = roster_.lock();
        for (;;) {
            if (roster_.over_locked()) return std::nullopt;
            if (!waiting_.empty()) {
                const Job job = waiting_.front();
                waiting_.pop_front();
                return job;
            }
            if (!wait) return std::nullopt;
            roster_.wait_locked(lock);
        }
        // END SOLUTION
        // BEGIN STUB
        // // TODO (assignment 3): take the next (samples, seed) job from the front of `waiting_`, under the lock
        // // (roster_.lock()); while none is waiting but some are still out at workers, wait (roster_.wait_locked):
        // // a lost worker may give its jobs back. std::nullopt once the run is over (roster_.over_locked()), or
        // // at once when none is waiting and `wait` is false.
        // (void)wait;
        // netutil::not_implemented("10.1");
        // END STUB
    }

    // Job `job` came back from worker t, checked: printed and counted, once.
    void finish(int t, const Job& job, uint64_t inside, double seconds) {
        // BEGIN SOLUTION 10.1 "each result counted once and reported as it arrives"
        const auto lock = roster_.lock();
        auto& stats = stats_[static_cast<size_t>(t)];
        stats.busy_seconds += seconds;
        if (done_[static_cast<size_t>(job.number)]) return;  // cannot happen: a job is out at one worker at a time
        done_[static_cast<size_t>(job.number)] = true;
        inside_[static_cast<size_t>(job.number)] = inside;
        stats.jobs += 1;
        stats.samples += job.samples;
        netutil::print_line("job " + std::to_string(job.number) + " (" + netutil::count(job.samples, "sample") +
                            ", seed " + std::to_string(job.seed) + ") by worker " + std::to_string(t) + ": " +
                            std::to_string(inside) + " inside, pi ~ " +
                            fixed(4.0 * static_cast<double>(inside) / static_cast<double>(job.samples), 6));
        roster_.done_locked();
        // END SOLUTION
        // BEGIN STUB
        // // TODO (assignment 3): under the lock, count job `job`'s result (`inside` of job.samples) once, in
        // // inside_ and done_, add it to worker t's stats_, print it at once (job number, samples, seed, worker,
        // // inside, its own estimate of pi), and tell the roster one more job is done (roster_.done_locked()).
        // (void)t;
        // (void)job;
        // (void)inside;
        // (void)seconds;
        // netutil::not_implemented("10.1");
        // END STUB
    }

    // Worker t is gone while it had the jobs `in_flight` out (in the order sent): they all go back to the front
    // of the queue, in that order. The first is the one it was working on; the others were sent ahead.
    void lose(int t, const std::deque<Job>& in_flight, const std::string& why) {
        // BEGIN SOLUTION 10.1 "a lost worker's jobs go back to the queue"
        const auto lock = roster_.lock();
        std::vector<Job> given_back;
        for (const Job& job : in_flight)
            if (!done_[static_cast<size_t>(job.number)]) given_back.push_back(job);
        waiting_.insert(waiting_.begin(), given_back.begin(), given_back.end());
        stats_[static_cast<size_t>(t)].lost = true;
        netutil::print_line("worker " + std::to_string(t) + " lost (" + why + ")" +
                            (given_back.empty()
                                 ? std::string()
                                 : ": job " + std::to_string(given_back.front().number) + " goes back to the queue"));
        for (size_t i = 1; i < given_back.size(); ++i)
            netutil::print_line("job " + std::to_string(given_back[i].number) + ", sent ahead to worker " +
                                std::to_string(t) + ", goes back to the queue too");
        roster_.lost_locked();
        // END SOLUTION
        // BEGIN STUB
        // // TODO (assignment 3): worker t is gone; the jobs it had out (`in_flight`, those not done) go back to
        // // the front of the queue, in that order, so that other workers redo them; tell the roster
        // // (roster_.lost_locked()).
        // (void)t;
        // (void)in_flight;
        // (void)why;
        // netutil::not_implemented("10.1");
        // END STUB
    }

    manager::Roster& roster() { return roster_; }
    int size() const { return static_cast<int>(jobs_.size()); }
    std::vector<WorkerStats> stats() const {
        const auto lock = roster_.lock();
        return stats_;
    }
    // Samples and hits over every job, added in job order (integers: the order could not matter anyway).
    std::pair<uint64_t, uint64_t> totals() const {
        const auto lock = roster_.lock();
        uint64_t samples = 0, inside = 0;
        for (size_t j = 0; j < jobs_.size(); ++j) {
            samples += jobs_[j].samples;
            inside += inside_[j];
        }
        return {samples, inside};
    }

private:
    // Every worker is there: the jobs go out from the front of the queue.
    void start_locked() {
        netutil::print_line("all " + netutil::count(roster_.nworkers(), "worker") + " connected: handing out " +
                            netutil::count(jobs_.size(), "job"));
    }

    manager::Roster roster_;
    std::vector<Job> jobs_;
    std::deque<Job> waiting_;
    std::vector<WorkerStats> stats_;
    std::vector<uint64_t> inside_;
    std::vector<bool> done_;
};

// The reply for `job` (the oldest job out), checked: RESULT with the same job number and sample count, and a
// count of points inside that is at most the samples. Anything else loses the worker (manager::Lost); the end
// of the run while it waits is manager::Stopped. `last` (no other job is out): nothing may follow it.
uint64_t read_result(netutil::LineReader& reader, const Job& job, bool last) {
    std::string line;
    switch (reader.read_line(line)) {
        case netutil::LineReader::Status::Line: break;
        case netutil::LineReader::Status::Stopped: throw manager::Stopped{};
        case netutil::LineReader::Status::TimedOut:
            throw manager::Lost{"no result for job " + std::to_string(job.number) + " in time"};
        case netutil::LineReader::Status::TooLong: throw manager::Lost{"a reply line too long"};
        default: throw manager::Lost{"connection closed"};
    }
    if (const auto result = montecarlo::parse_result_line(line)) {
        if (result->number != job.number || result->samples != job.samples)
            throw manager::Lost{"sent " + netutil::quote(line) + " for job " + std::to_string(job.number)};
        if (last && !reader.buffered().empty())
            throw manager::Lost{"sent more than one result for job " + std::to_string(job.number)};
        return result->inside;
    }
    if (line.rfind("error:", 0) == 0) throw manager::Lost{"it said " + netutil::quote(line)};
    throw manager::Lost{"sent " + netutil::quote(line) + " instead of RESULT " + std::to_string(job.number)};
}

// The assignment's hand-out, in the handler thread of worker t: jobs from the front of the queue until none is
// left. Up to `window` (--prefetch) jobs out at once, sent before the first result is read, and one more sent
// per result: while the worker runs one, the next already waits in its socket, so it never idles for a round
// trip (with 1, it does). Only with nothing out does the handler wait for a job. `in_flight` (the jobs sent,
// results still to come, in order) is what the worker owes if it is lost; `busy` runs while it has jobs out.
void hand_out_jobs(int fd, int t, JobQueue& queue, const netutil::RunEvents& events, int reply_timeout_ms,
                   size_t window, std::deque<Job>& in_flight) {
    netutil::LineReader reader(fd, montecarlo::kMaxLine, events.quit.fd(), reply_timeout_ms);
    std::optional<netutil::Stopwatch> busy;
    for (;;) {
        while (in_flight.size() < window) {
            const std::optional<Job> job = queue.next(in_flight.empty());
            if (!job) break;
            if (in_flight.empty()) busy.emplace();
            in_flight.push_back(*job);
            netutil::write_all(fd, montecarlo::job_line(*job) + "\n");
        }
        if (in_flight.empty()) return;
        const Job job = in_flight.front();
        const uint64_t inside = read_result(reader, job, in_flight.size() == 1);
        in_flight.pop_front();
        queue.finish(t, job, inside, in_flight.empty() ? busy->seconds() : 0.0);
    }
}

// The handler thread of one connection: the handshake (manager.hpp: HELLO, then the wait for the others), the
// jobs, BYE. A lost worker's job goes back to the queue.
void serve_worker(manager::Caller caller, manager::Greeting& greeting, JobQueue& queue,
                  const netutil::RunEvents& events, const netutil::ManagerLimits& limits, int prefetch) {
    std::deque<Job> in_flight;
    const manager::Handshake handshake{montecarlo::kHello, montecarlo::kMaxLine, ""};
    manager::serve_connection(
        std::move(caller), greeting, queue.roster(), events, limits, handshake,
        [&](int fd, int t) {
            hand_out_jobs(fd, t, queue, events, limits.reply_timeout_ms, static_cast<size_t>(prefetch), in_flight);
        },
        [&](int t, const std::string& why) { queue.lose(t, in_flight, why); });
}

void print_estimate(uint64_t samples, uint64_t inside, int njobs, double seconds) {
    const double estimate = 4.0 * static_cast<double>(inside) / static_cast<double>(samples);
    char error[32];
    std::snprintf(error, sizeof error, "%.3e", std::fabs(estimate - std::numbers::pi));
    netutil::print_line("estimate of pi " + fixed(estimate, 10) + " (" + std::to_string(inside) + " of " +
                        netutil::count(samples, "sample") + " inside, " + netutil::count(njobs, "job") + ")");
    netutil::print_line("error " + std::string(error) + " (|estimate - pi|)");
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.2e", seconds > 0 ? static_cast<double>(samples) / seconds : 0.0);
    netutil::print_line("wall time " + fixed(seconds, 3) + " s, " + rate + " samples/s");
}

// --local: the same jobs run here, one after the other, no sockets: the reference estimate.
int run_local(int njobs, uint64_t samples, uint64_t base_seed) {
    const netutil::Stopwatch watch;
    uint64_t inside = 0;
    for (int j = 0; j < njobs; ++j) {
        const uint64_t seed = montecarlo::job_seed(base_seed, j);
        const uint64_t count = montecarlo::count_inside(samples, seed);
        netutil::print_line("job " + std::to_string(j) + " (" + netutil::count(samples, "sample") + ", seed " +
                            std::to_string(seed) + ") local: " + std::to_string(count) + " inside, pi ~ " +
                            fixed(4.0 * static_cast<double>(count) / static_cast<double>(samples), 6));
        inside += count;
    }
    print_estimate(samples * static_cast<uint64_t>(njobs), inside, njobs, watch.seconds());
    return 0;
}

// The manager, as the assignment runs it: wait for the workers (the accept loop, a thread per worker), hand out
// the jobs (each handler), gather the results, and print the estimate.
int run_manager(const Settings& settings) {
    const JobOptions& jobs = settings.jobs;
    // The signals, the listener, and every descriptor the manager keeps: the listening line comes last.
    manager::Doorway door(settings.common);
    netutil::print_line("manager waits for " + netutil::count(settings.common.nworkers, "worker") + ": " +
                        netutil::count(jobs.njobs, "job") + " of " + netutil::count(jobs.samples, "sample") +
                        ", seeds " + std::to_string(jobs.seed) + " to " +
                        std::to_string(montecarlo::job_seed(jobs.seed, jobs.njobs - 1)));
    const netutil::RunEvents events = door.events();
    JobQueue queue(jobs.njobs, jobs.samples, jobs.seed, settings.common.nworkers, events);

    // The handler of each worker: the handshake, then jobs from the queue.
    auto serve = [&](manager::Caller worker, manager::Greeting& greeting) {
        serve_worker(std::move(worker), greeting, queue, events, door.limits(), settings.common.prefetch);
    };
    // The accept loop: one handler thread per connection while workers are missing (newcomers after the start
    // are turned away at the door), until every job is done, no worker is left, or Ctrl-C.
    manager::Handlers handlers(door, queue.roster());
    while (std::optional<manager::Caller> caller = door.accept(queue.roster(), handlers.saying_hello()))
        handlers.start(std::move(*caller), serve);
    handlers.join_all();

    if (manager::stopped_by_signal(queue.roster(), queue.size(), "job", "no estimate")) return 0;
    const auto stats = queue.stats();
    for (size_t t = 0; t < stats.size(); ++t)
        netutil::print_line("worker " + std::to_string(t) + ": " + netutil::count(stats[t].jobs, "job") + ", " +
                            netutil::count(stats[t].samples, "sample") + ", busy " + fixed(stats[t].busy_seconds, 3) +
                            " s with jobs out" + (stats[t].lost ? " (lost)" : ""));
    if (manager::no_worker_left(queue.roster(), queue.size(), "job", "not done, no estimate")) return 1;
    const auto [total_samples, inside] = queue.totals();
    const auto& since_start = door.since_start();
    print_estimate(total_samples, inside, queue.size(), since_start ? since_start->seconds() : 0.0);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        if (settings.local) return run_local(settings.jobs.njobs, settings.jobs.samples, settings.jobs.seed);
        return run_manager(settings);
    });
}

namespace {

// The command line. Usage errors exit 2 with a short message; --help is short, README.md says the limits.
Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "Manager of the Monte Carlo estimate of pi (lecture: assignment 3): keeps a job queue of (samples,\n"
        "seed) tuples, hands the jobs to NWORKERS worker clients, prints each result as it arrives and the\n"
        "estimate of pi. The estimate depends only on the jobs, not on how many workers ran them.\n"
        "Ctrl-C, SIGTERM or SIGHUP abandons the run: exit 0, no estimate. Limits: see README.md."};
    Settings settings;
    manager::add_port_and_workers(app, settings.common, "jobs");
    montecarlo::add_job_options(app, settings.jobs);
    manager::add_prefetch_option(app, settings.common, kJobsOut, "jobs",
                                 "a lost worker's jobs out all go back to the front of the queue");
    app.add_flag("--local", settings.local, "run the jobs here, one thread, no sockets (the reference estimate)");
    netutil::add_manager_options(app, settings.common.reply_timeout,
                                 "seconds a worker may take for one job before it counts as lost and its job goes "
                                 "back to the queue",
                                 86400, settings.common.hello_timeout, settings.common.bind_address);
    netutil::parse_or_exit(app, argc, argv);
    montecarlo::check_job_options(settings.jobs);
    return settings;
}

}  // namespace
