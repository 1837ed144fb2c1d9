// 09_mandelbrot/manager.hpp: the manager's side of the manager/worker paradigm, shared by this lab's
// server.cpp (columns) and 10_pi_montecarlo/server.cpp (jobs), the way 05 shares 04's protocol.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slide "Manager/Worker Paradigm": the manager
// waits for n workers, one handler thread per worker, then hands out the work. The lab's server.cpp keeps
// what the slide shows: the accept loop (Doorway::accept), a thread per worker (Handlers::start) and the
// hand-out of the work; what is here is the frame around it:
//   Roster     the worker numbers (join, leave before the start, lose) and the count of work left, under the
//              mutex that also guards the lab's own board (the board has a Roster, it does not derive from one);
//   Doorway    the signals, the pipes that mark the moments of a run, the listener, and accept() with its
//              pauses (too many connections saying hello, out of descriptors);
//   Handlers   the thread per connection, and the count of those still saying hello (Greeting);
//   serve_connection  one connection's life: HELLO, the wait for the others, the lab's hand-out, the loss.
//   ManagerSettings, stopped_by_signal, no_worker_left: the command line every manager has, and the two
//              endings both managers tell alike.
// Generic pieces (read_hello, turn_away, wait_for_start, the options) are netutil/workers.hpp.
#pragma once

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/fd.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/workers.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace manager {

// The bounds both managers keep beside their timeouts (seconds, from their command lines).
inline constexpr int kMaxPending = 64;  // connections still saying hello at once; more wait in the backlog
inline constexpr int kPauseMs = 100;    // while accepting is paused, how often the door looks again
// Units of work (columns, jobs) out at one worker at once (--prefetch): with 2 or more, the next one already
// waits in the worker's socket while it computes one, so it never idles for a round trip; each lab chooses its
// default by measurement (its README.md, "Costs of the design").
inline constexpr int kMaxPrefetch = 64;

// The command line every manager has: PORT and NWORKERS (add_port_and_workers, first), then, after the lab's
// own options, netutil::add_manager_options (--reply-timeout, --hello-timeout, --bind).
struct ManagerSettings {
    int port = 0;
    int nworkers = 2;
    int reply_timeout = 60;  // seconds
    int hello_timeout = 5;   // seconds
    std::string bind_address = netutil::kAnyAddress;
    int prefetch = 1;  // units of work out at one worker at once (--prefetch; add_prefetch_option sets the default)
    netutil::ManagerLimits limits() const {
        return {kMaxPending, kPauseMs, hello_timeout * 1000, reply_timeout * 1000};
    }
};
// PORT, and NWORKERS: "number of workers to wait for before handing out `work`".
void add_port_and_workers(CLI::App& app, ManagerSettings& settings, const std::string& work);
// --prefetch K (default `default_k`): how many `units` ("columns", "jobs") the manager keeps out at each worker;
// `lost` says what happens to them when the worker is lost.
void add_prefetch_option(CLI::App& app, ManagerSettings& settings, int default_k, const std::string& units,
                         const std::string& lost);

// How a handler's wait for a worker ends when it is not a reply: thrown inside the handler, caught there.
struct Stopped {};  // the run is over (Ctrl-C, or the end): nothing to tell, nothing lost
struct Lost {       // the worker broke the protocol, went silent or went away: it is lost, `why` says how
    std::string why;
};

// The roster of a manager that waits for N workers, then starts the work, and the count of pieces of work
// left. Its mutex guards the lab's board too: the board locks it (lock()) around its own state, and calls
// the *_locked members under it. The public members that do not say _locked may be called from any thread.
class Roster {
public:
    // `start_locked` is the lab dealing out the work, under the mutex, when the last worker joins.
    Roster(int nworkers, int pieces, const netutil::RunEvents& events, std::function<void()> start_locked);
    Roster(const Roster&) = delete;
    Roster& operator=(const Roster&) = delete;

    // Before the start: a worker that said HELLO (from `peer`) takes the lowest free number, or nothing when
    // all are taken or the work has started. The last one to join starts the work, then the `started` event.
    std::optional<int> join(const std::string& peer);
    // A worker that leaves before the start frees its number (true); after the start it is a lost worker.
    bool leave_before_start(int t);
    // Ctrl-C, or the end: every handler waiting for work returns.
    void end();
    int remaining() const;
    bool started() const;
    int nworkers() const { return nworkers_; }

    std::unique_lock<std::mutex> lock() const { return std::unique_lock(mutex_); }
    // Waits (lock held) until a piece of work is given back or the run is over.
    void wait_locked(std::unique_lock<std::mutex>& lock) const { changed_.wait(lock); }
    // A piece of work was given back: handlers waiting for work look again.
    void notify_locked() const { changed_.notify_all(); }
    // One piece of work is done: the last one ends the run (`finished`).
    void done_locked();
    // Worker t is lost (the lab has given its work back): with no worker left while work remains, the run is
    // over.
    void lost_locked();
    // No more work to hand out: all of it is done, or the run is over.
    bool over_locked() const { return over_ || remaining_ == 0; }

private:
    const int nworkers_;
    const netutil::RunEvents events_;
    const std::function<void()> start_locked_;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<bool> taken_;  // worker numbers in use before the start
    int remaining_;
    int joined_ = 0;
    int alive_ = 0;
    bool started_ = false;
    bool over_ = false;
};

// One connection's place among those saying hello: Handlers::start counts it, the handler gives it up once
// the connection has said HELLO or been turned away (at the latest when it ends). The handler thread only.
class Greeting {
public:
    explicit Greeting(std::atomic<int>& count) : count_(count) {}
    ~Greeting() { end(); }
    Greeting(const Greeting&) = delete;
    Greeting& operator=(const Greeting&) = delete;
    void end() {
        if (!ended_) count_.fetch_sub(1);
        ended_ = true;
    }

private:
    std::atomic<int>& count_;
    bool ended_ = false;
};

// A connection just accepted, for a handler thread.
struct Caller {
    netutil::UniqueFd connection;
    std::string peer;
};

// The manager's door: the stop on Ctrl-C, SIGTERM and SIGHUP, the pipes of the run's events, the listener.
// The main thread only (events() and the pipes may be watched from any thread).
class Doorway {
public:
    // Opens every descriptor the manager keeps, then prints the listening line: from then on the manager
    // only gains one descriptor per connection. SIGINT, SIGTERM and SIGHUP (its terminal closed, the same as
    // SIGTERM) only write a byte into the stop pipe; the handlers are in place before anyone can see the
    // listening line and send a signal.
    explicit Doorway(const ManagerSettings& settings);

    netutil::RunEvents events() const { return {started_, finished_, quit_}; }
    const netutil::ManagerLimits& limits() const { return limits_; }

    // The next connection for a handler thread, or nothing once the run is over (a signal, or `finished`).
    // Once the work has started (`roster`), newcomers are told so and closed right here. Accepting pauses
    // while `saying_hello` connections (max_pending) are still saying hello, and while descriptors have run
    // out; new connections wait in the backlog meanwhile.
    std::optional<Caller> accept(const Roster& roster, const std::atomic<int>& saying_hello);
    // Closes the listener and sets `quit`: handlers stop waiting.
    void close();
    // Since the work started (every worker there), if it did.
    const std::optional<netutil::Stopwatch>& since_start() const { return since_start_; }

private:
    netutil::ManagerLimits limits_;
    netutil::StopPipe stop_;
    netutil::StopPipe started_;
    netutil::StopPipe finished_;
    netutil::StopPipe quit_;
    netutil::UniqueFd listener_;
    std::optional<netutil::Stopwatch> since_start_;
    bool said_crowded_ = false;
    bool said_out_of_fds_ = false;
    bool out_of_fds_ = false;
};

// The thread per connection. Leaving its scope (the run is over, or the accept loop failed) closes the door,
// ends the roster, and joins every handler: none is ever left running.
class Handlers {
public:
    Handlers(Doorway& door, Roster& roster) : door_(door), roster_(roster) {}
    ~Handlers() { join_all(); }
    Handlers(const Handlers&) = delete;
    Handlers& operator=(const Handlers&) = delete;

    using Serve = std::function<void(Caller caller, Greeting& greeting)>;
    // A thread of its own for `caller`, counted among those saying hello. Handlers that have finished (those of
    // connections turned away finish at once) are joined first, so a flood of bad peers cannot pile up threads.
    void start(Caller caller, const Serve& serve);
    const std::atomic<int>& saying_hello() const { return saying_hello_; }
    void join_all();

private:
    struct Handler {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> running;
    };
    Doorway& door_;
    Roster& roster_;
    std::atomic<int> saying_hello_{0};
    std::vector<Handler> handlers_;
};

// What a lab's protocol says at the handshake.
struct Handshake {
    std::string_view hello;  // the first line a worker sends
    size_t max_line;
    std::string welcome;  // sent to a worker once it has joined (may be empty)
};

// The handler of one connection: the handshake (a connection that does not say HELLO is turned away and never
// counts as a worker), the wait for the others, then `hand_out(fd, t)`, the lab's work for worker t, then BYE.
// A worker that leaves before the start gives its number back; one that is lost after (Lost, or its
// connection failing) is handed to `lose(t, why)`. Stopped ends it quietly.
void serve_connection(Caller caller, Greeting& greeting, Roster& roster, const netutil::RunEvents& events,
                      const netutil::ManagerLimits& limits, const Handshake& handshake,
                      const std::function<void(int fd, int t)>& hand_out,
                      const std::function<void(int t, const std::string& why)>& lose);

// After the accept loop, how the run ended, for `total` pieces of work called `noun` ("column", "job").
// Stopped by a signal before the end: "manager stopped by SIGINT: 3 of 16 jobs were done, CONSEQUENCE" (or "the
// work had not started") on stdout, and true (the manager exits 0).
bool stopped_by_signal(const Roster& roster, int total, const std::string& noun, const std::string& consequence);
// No worker left before the end: "PROGRAM: no worker left: 4 of 16 jobs NOT_DONE" on stderr, and true (the
// manager exits 1).
bool no_worker_left(const Roster& roster, int total, const std::string& noun, const std::string& not_done);

}  // namespace manager
