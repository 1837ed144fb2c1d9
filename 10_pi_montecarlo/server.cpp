// 10_pi_montecarlo/server.cpp: the manager of a Monte Carlo estimate of pi, with a job queue.
//
// Mirrors: seeds/01_lecture_multithreaded_servers.txt, assignment 3: "Use a multithreaded server to estimate
// pi counting the number of samples (x, y) in [0, 1] x [0, 1]: x^2 + y^2 <= 1. The job queue maintained by the
// server is a list of tuples. Each tuple contains the number of samples and the seed for the random number
// generator." And the manager/worker paradigm of section 4, with the closing questions of
// seeds/02_lecture_client_server_multiprocessing.txt ("What happens when something goes wrong?"): a worker
// that dies mid-job loses nothing, the job goes back to the queue, and no job is ever counted twice.
//
// Watch for: each job's result is printed as it arrives, in whatever order the workers finish; the estimate
// only depends on the jobs (their samples and seeds), so it is the same for 1, 2 or 8 workers and for --local.
//
// Demo (three terminals):
//   ./server 11269 2            the manager waits for 2 workers
//   ./client                    worker 0
//   ./client                    worker 1; the jobs go out, the results come back, the estimate is printed
// See also: client.cpp (the worker), montecarlo.hpp (the generator and the protocol), netutil/workers.hpp (the
// acceptor, the handshake and the roster of workers, shared with 09_mandelbrot).
#include "montecarlo.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"
#include "netutil/workers.hpp"

#include <cmath>
#include <cstdio>
#include <deque>
#include <numbers>
#include <vector>

namespace {

constexpr uint16_t kDefaultPort = 11269;
constexpr int kMaxPending = 64;  // connections still saying hello at once; more wait in the backlog
constexpr int kPauseMs = 100;    // while accepting is paused, how often the acceptor looks again

using montecarlo::Job;

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
// The roster of workers (who joined, who is still there, how many jobs are left) is netutil's WorkerBoard,
// whose mutex guards this queue's state too; every member may be called from any thread.
class JobQueue : public netutil::WorkerBoard {
public:
    JobQueue(int njobs, uint64_t samples, uint64_t base_seed, int nworkers, const netutil::RunEvents& events)
        : WorkerBoard(nworkers, njobs, events),
          stats_(static_cast<size_t>(nworkers)),
          inside_(static_cast<size_t>(njobs)),
          done_(static_cast<size_t>(njobs), false) {
        for (int j = 0; j < njobs; ++j) waiting_.push_back({j, samples, montecarlo::job_seed(base_seed, j)});
        jobs_ = std::vector<Job>(waiting_.begin(), waiting_.end());
    }

    // The next job from the front of the queue. Waits while jobs are out at other workers (one of them may
    // die and give its job back); std::nullopt when every job is done or the run is over.
    std::optional<Job> next() {
        std::unique_lock lock(mutex_);
        for (;;) {
            if (over_locked()) return std::nullopt;
            if (!waiting_.empty()) {
                const Job job = waiting_.front();
                waiting_.pop_front();
                return job;
            }
            changed_.wait(lock);
        }
    }

    // Job `job` came back from worker t, checked: printed and counted, once.
    void finish(int t, const Job& job, uint64_t inside, double seconds) {
        std::lock_guard lock(mutex_);
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
        done_locked();
    }

    // Worker t is gone while it had `in_flight`: that job goes back to the front of the queue.
    void lose(int t, const std::optional<Job>& in_flight, const std::string& why) {
        std::lock_guard lock(mutex_);
        const bool give_back = in_flight && !done_[static_cast<size_t>(in_flight->number)];
        if (give_back) waiting_.push_front(*in_flight);
        stats_[static_cast<size_t>(t)].lost = true;
        netutil::print_line(
            "worker " + std::to_string(t) + " lost (" + why + ")" +
            (give_back ? ": job " + std::to_string(in_flight->number) + " goes back to the queue" : std::string()));
        lost_locked();
    }

    int size() const { return static_cast<int>(jobs_.size()); }
    std::vector<WorkerStats> stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }
    // Samples and hits over every job, added in job order (integers: the order could not matter anyway).
    std::pair<uint64_t, uint64_t> totals() const {
        std::lock_guard lock(mutex_);
        uint64_t samples = 0, inside = 0;
        for (size_t j = 0; j < jobs_.size(); ++j) {
            samples += jobs_[j].samples;
            inside += inside_[j];
        }
        return {samples, inside};
    }

private:
    // Every worker is there: the jobs go out from the front of the queue.
    void start_locked() override {
        netutil::print_line("all " + netutil::count(nworkers_, "worker") + " connected: handing out " +
                            netutil::count(jobs_.size(), "job"));
    }

    std::vector<Job> jobs_;
    std::deque<Job> waiting_;
    std::vector<WorkerStats> stats_;
    std::vector<uint64_t> inside_;
    std::vector<bool> done_;
};

struct Lost {
    std::string why;
};

// Sends one job and checks the reply: RESULT with the same job number and sample count, and a count of
// points inside that is at most the samples.
uint64_t run_job(netutil::LineReader& reader, int fd, const Job& job) {
    netutil::write_all(fd, montecarlo::job_line(job) + "\n");
    std::string line;
    switch (reader.read_line(line)) {
        case netutil::LineReader::Status::Line: break;
        case netutil::LineReader::Status::Stopped: throw Lost{"stopped"};
        case netutil::LineReader::Status::TimedOut:
            throw Lost{"no result for job " + std::to_string(job.number) + " in time"};
        case netutil::LineReader::Status::TooLong: throw Lost{"a reply line too long"};
        default: throw Lost{"connection closed"};
    }
    if (const auto result = montecarlo::parse_result_line(line)) {
        if (result->number != job.number || result->samples != job.samples)
            throw Lost{"sent " + netutil::quote(line) + " for job " + std::to_string(job.number)};
        if (!reader.buffered().empty()) throw Lost{"sent more than one result for job " + std::to_string(job.number)};
        return result->inside;
    }
    if (line.rfind("error:", 0) == 0) throw Lost{"it said " + netutil::quote(line)};
    throw Lost{"sent " + netutil::quote(line) + " instead of RESULT " + std::to_string(job.number)};
}

// The handler thread of one connection: the handshake (a connection that does not say HELLO is turned away
// and never counts as a worker), the wait for the others, then jobs until none is left.
// `greeting` is the connection's place among those saying hello (netutil::WorkerAcceptor keeps their count
// bounded).
void serve_worker(netutil::UniqueFd connection, const std::string& peer, netutil::Greeting& greeting, JobQueue& queue,
                  const netutil::RunEvents events, const netutil::ManagerLimits& limits) {
    const int fd = connection.get();
    std::optional<int> slot;
    std::optional<Job> in_flight;
    try {
        netutil::set_send_timeout(fd, std::chrono::milliseconds(limits.reply_timeout_ms));
        const auto hello =
            netutil::read_hello(fd, montecarlo::kHello, montecarlo::kMaxLine, events, limits.hello_timeout_ms);
        greeting.end();
        switch (hello.status) {
            case netutil::Hello::Status::Said: break;
            case netutil::Hello::Status::Stopped: return;
            case netutil::Hello::Status::Refused:
                return netutil::turn_away(fd, peer, hello.why, "expected " + std::string(montecarlo::kHello));
        }
        slot = queue.join(peer);
        if (!slot) {
            netutil::print_line("turned away " + peer + ": every worker is there already");
            netutil::write_all(fd, "error: the manager has all its workers\n");
            return;
        }

        // Waiting for the others: anything from the worker now (or its closing) means it leaves.
        const netutil::StartWait wait = netutil::wait_for_start(fd, events);
        if (wait == netutil::StartWait::Quit) return;
        if (wait == netutil::StartWait::Left) {
            if (queue.leave_before_start(*slot)) return;
            throw Lost{"connection closed"};
        }

        netutil::LineReader reader(fd, montecarlo::kMaxLine, events.quit.fd(), limits.reply_timeout_ms);
        while ((in_flight = queue.next())) {
            const netutil::Stopwatch watch;
            const uint64_t inside = run_job(reader, fd, *in_flight);
            queue.finish(*slot, *in_flight, inside, watch.seconds());
            in_flight.reset();
        }
        if (events.quit.stop_requested() && queue.remaining() > 0) return;  // Ctrl-C: closing is the message
        netutil::write_all(fd, "BYE\n");
    } catch (const Lost& lost) {
        if (lost.why == "stopped") return;
        if (slot) queue.lose(*slot, in_flight, lost.why);
    } catch (const std::system_error& error) {
        if (!slot) {
            netutil::print_line("turned away " + peer + ": " + error.what());
        } else if (!queue.leave_before_start(*slot)) {
            queue.lose(*slot, in_flight, error.what());
        }
    }
}

void print_estimate(uint64_t samples, uint64_t inside, int njobs, double seconds) {
    const double estimate = 4.0 * static_cast<double>(inside) / static_cast<double>(samples);
    char error[32];
    std::snprintf(error, sizeof error, "%.3e", std::fabs(estimate - std::numbers::pi));
    netutil::print_line("estimate of pi " + fixed(estimate, 10) + " (" + std::to_string(inside) + " of " +
                        netutil::count(samples, "sample") + " inside, " + netutil::count(njobs, "job") + ")");
    netutil::print_line("error " + std::string(error) + " (|estimate - pi|)");
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.3g", seconds > 0 ? static_cast<double>(samples) / seconds : 0.0);
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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Manager of the Monte Carlo estimate of pi (lecture: assignment 3): keeps a job queue of (samples,\n"
        "seed) tuples, hands the jobs to NWORKERS worker clients, prints each result as it arrives and the\n"
        "estimate of pi. The estimate depends only on the jobs, not on how many workers ran them.\n"
        "Ctrl-C, SIGTERM or SIGHUP abandons the run: exit 0, no estimate. Limits: protocol lines of at\n"
        "most 200 bytes; at most 64 connections saying hello at once (more wait in the backlog)."};
    int port = kDefaultPort;
    int nworkers = 2;
    int njobs = 16;
    uint64_t samples = 10'000'000;
    uint64_t seed = 1;
    bool local = false;
    int reply_timeout = 600;
    int hello_timeout = 5;
    std::string bind_address = netutil::kAnyAddress;
    app.add_option("PORT", port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    app.add_option("NWORKERS", nworkers, "number of workers to wait for before handing out jobs")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 256));
    app.add_option("--jobs", njobs, "number of jobs in the queue")
        ->capture_default_str()
        ->check(netutil::whole_number(1, montecarlo::kMaxJobs));
    app.add_option("--samples", samples, "samples per job")
        ->capture_default_str()
        ->check(netutil::unsigned_number(1, montecarlo::kMaxSamples));
    app.add_option("--seed", seed, "seed of job 0; job j gets seed + j")->capture_default_str();
    app.add_flag("--local", local, "run the jobs here, one thread, no sockets (the reference estimate)");
    netutil::add_manager_options(app, reply_timeout,
                                 "seconds a worker may take for one job before it counts as lost "
                                 "and its job goes back to the queue",
                                 86400, hello_timeout, bind_address);
    netutil::parse_or_exit(app, argc, argv);
    if (static_cast<double>(samples) * njobs > 1.8e19) netutil::usage_error("--samples times --jobs is too large");
    const netutil::ManagerLimits limits{kMaxPending, kPauseMs, hello_timeout * 1000, reply_timeout * 1000};

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        if (local) return run_local(njobs, samples, seed);

        // The signals, the listener, and every descriptor the manager keeps: the listening line comes last.
        netutil::WorkerAcceptor acceptor(bind_address, static_cast<uint16_t>(port), limits);
        netutil::print_line("manager waits for " + netutil::count(nworkers, "worker") + ": " +
                            netutil::count(njobs, "job") + " of " + netutil::count(samples, "sample") + ", seeds " +
                            std::to_string(seed) + " to " + std::to_string(montecarlo::job_seed(seed, njobs - 1)));

        const netutil::RunEvents events = acceptor.events();
        JobQueue queue(njobs, samples, seed, nworkers, events);
        // The acceptor starts a handler thread per connection while workers are missing, and turns newcomers
        // away once the work has started; it returns when every job is done, no worker is left, or Ctrl-C.
        auto serve = [&](netutil::UniqueFd connection, const std::string& peer, netutil::Greeting& greeting) {
            serve_worker(std::move(connection), peer, greeting, queue, events, limits);
        };
        const std::optional<netutil::Stopwatch> since_start = acceptor.run(queue, serve);

        const int signo = netutil::caught_signal();
        const int remaining = queue.remaining();
        if (remaining > 0 && signo != 0) {
            netutil::print_line("manager stopped by " + netutil::signal_name(signo) + ": " +
                                (queue.started() ? std::to_string(queue.size() - remaining) + " of " +
                                                       netutil::count(queue.size(), "job") + " were done"
                                                 : std::string("the work had not started")) +
                                ", no estimate");
            return 0;
        }
        const auto stats = queue.stats();
        for (size_t t = 0; t < stats.size(); ++t)
            netutil::print_line("worker " + std::to_string(t) + ": " + netutil::count(stats[t].jobs, "job") + ", " +
                                netutil::count(stats[t].samples, "sample") + ", busy " +
                                fixed(stats[t].busy_seconds, 3) + " s with jobs out" +
                                (stats[t].lost ? " (lost)" : ""));
        if (remaining > 0) {
            netutil::print_error(netutil::program_name() + ": no worker left: " + std::to_string(remaining) + " of " +
                                 netutil::count(queue.size(), "job") + " not done, no estimate");
            return 1;
        }
        const auto [total_samples, inside] = queue.totals();
        print_estimate(total_samples, inside, queue.size(), since_start ? since_start->seconds() : 0.0);
        return 0;
    });
}
