// netutil/workers.hpp: the plumbing the two manager/worker labs share (09_mandelbrot, 10_pi_montecarlo).
//
// A manager waits for N workers, then hands out work (columns, jobs) until all of it is done; a worker
// connects, says HELLO, and answers each piece of work until the manager says BYE. What the work is, how it
// is handed out and checked, and what each side prints about it stay in the labs. What is here is the same
// for both:
//   manager  the command-line options every manager has (--reply-timeout, --hello-timeout, --bind);
//            WorkerAcceptor: the signals, the pipes that mark the moments of a run, the listener, and the
//            acceptor (one handler thread per connection, bounded); Greeting, read_hello, turn_away and
//            wait_for_start: the handshake of one connection; WorkerBoard: the roster of worker numbers
//            (join, leave before the start, start, lose) and the count of work left, for the lab's board.
//   worker   the command-line options every worker has; connect_to_manager (retries while the manager is not
//            listening yet); work_for_manager: HELLO, then each message to the lab until BYE or the end.
// The MPI versions (mpi.cpp) share netutil/mpi.hpp instead: it needs mpi.h, which this library must not.
#pragma once

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/fd.hpp"
#include "netutil/signals.hpp"

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

namespace netutil {

// ================================================================================================ manager

// The bounds every manager enforces, from its command line.
struct ManagerLimits {
    int max_pending;       // connections still saying hello at once; more wait in the backlog
    int pause_ms;          // while accepting is paused, how often the acceptor looks again
    int hello_timeout_ms;  // --hello-timeout: a connection that has not said HELLO by then is turned away
    int reply_timeout_ms;  // --reply-timeout: a worker silent that long over one piece of work is lost
};

// The options every manager has, after its own: --reply-timeout (`reply_help`, at most `reply_max` seconds),
// --hello-timeout and --bind. The values are seconds; the defaults are what the variables hold.
void add_manager_options(CLI::App& app, int& reply_timeout, const std::string& reply_help, int reply_max,
                         int& hello_timeout, std::string& bind_address);

// The moments of a run, as pipes any thread can watch (a StopPipe, once set, stays readable).
struct RunEvents {
    const StopPipe& started;   // every worker is there: the work has started
    const StopPipe& finished;  // every piece of work is done, or no worker is left
    const StopPipe& quit;      // the run is over (done, no worker left, or Ctrl-C): handlers stop waiting
};

// One connection's place among those saying hello: the acceptor counts it when it starts the handler, the
// handler gives it up once the connection has said HELLO or been turned away (at the latest when it ends).
// The handler thread only.
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

// The roster of a manager that waits for N workers, then starts the work, and the count of pieces of work
// left. The lab's board derives from it and adds the work itself (what goes to whom, what came back) under
// the same mutex. Every public member may be called from any thread.
class WorkerBoard {
public:
    WorkerBoard(int nworkers, int pieces, const RunEvents& events);
    virtual ~WorkerBoard() = default;
    WorkerBoard(const WorkerBoard&) = delete;
    WorkerBoard& operator=(const WorkerBoard&) = delete;

    // Before the start: a worker that said HELLO (from `peer`) takes the lowest free number, or nothing when
    // all are taken or the work has started. The last one to join starts the work (start_locked, then the
    // `started` event).
    std::optional<int> join(const std::string& peer);
    // A worker that leaves before the start frees its number (true); after the start it is a lost worker.
    bool leave_before_start(int t);
    // Ctrl-C, or the end: every handler waiting for work returns.
    void end();
    int remaining() const;
    bool started() const;

protected:
    // The work starts (every worker is there), under mutex_: the lab deals the work out and says so.
    virtual void start_locked() = 0;
    // One piece of work is done, under mutex_: the last one ends the run (`finished`).
    void done_locked();
    // Worker t is lost (the lab has given its work back), under mutex_: with no worker left while work
    // remains, the run is over.
    void lost_locked();
    // No more work to hand out: all of it is done, or the run is over.
    bool over_locked() const { return over_ || remaining_ == 0; }

    const int nworkers_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;  // a piece of work was given back, or the run is over

private:
    const RunEvents events_;
    std::vector<bool> taken_;  // worker numbers in use before the start
    int remaining_;
    int joined_ = 0;
    int alive_ = 0;
    bool started_ = false;
    bool over_ = false;
};

// The acceptor of a manager, and all it needs: the stop on Ctrl-C, SIGTERM and SIGHUP, the pipes of the
// run's events, the listener and the handler threads. Owns all of them. The main thread only.
class WorkerAcceptor {
public:
    // Opens every descriptor the manager keeps, then prints the listening line: from then on the manager
    // only gains one descriptor per connection. SIGINT, SIGTERM and SIGHUP (its terminal closed, the same as
    // SIGTERM) only write a byte into the stop pipe; the handlers are in place before anyone can see the
    // listening line and send a signal.
    WorkerAcceptor(const std::string& bind_address, uint16_t port, const ManagerLimits& limits);
    WorkerAcceptor(const WorkerAcceptor&) = delete;
    WorkerAcceptor& operator=(const WorkerAcceptor&) = delete;

    RunEvents events() const { return {started_, finished_, quit_}; }

    // The handler of one connection, in a thread of its own: `peer` is the connection's address, `greeting`
    // its place among those saying hello.
    using Serve = std::function<void(UniqueFd connection, const std::string& peer, Greeting& greeting)>;

    // Accepts connections until a signal or the `finished` event: one handler thread per connection while
    // workers are missing; once the work has started, newcomers are told so and closed right here. Then
    // closes the listener, sets `quit`, ends the board (handlers waiting for work return) and joins every
    // handler. Returns when the work started, if it did.
    std::optional<Stopwatch> run(WorkerBoard& board, const Serve& serve);

private:
    struct Handler {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> running;
    };
    std::optional<Stopwatch> accept_until_done(const WorkerBoard& board, const Serve& serve);
    void start_handler(UniqueFd connection, const std::string& peer, const Serve& serve);

    ManagerLimits limits_;
    StopPipe stop_;
    StopPipe started_;
    StopPipe finished_;
    StopPipe quit_;
    UniqueFd listener_;
    std::atomic<int> saying_hello_{0};
    std::vector<Handler> handlers_;
};

// The first line of a connection, which must be exactly `hello` and nothing after it.
struct Hello {
    enum class Status { Said, Stopped, Refused } status;
    std::string why;  // Refused: why, for the log ("said nothing for 5 s", "sent 'GET /' instead of ...")
};
Hello read_hello(int fd, std::string_view hello, size_t max_line, const RunEvents& events, int timeout_ms);

// Turns a connection away: "turned away PEER: WHY" in the log, "error: TELL" to the peer if it still listens.
void turn_away(int fd, const std::string& peer, const std::string& why, const std::string& tell);

// A worker that has joined waits for the others.
enum class StartWait {
    Started,  // every worker is there: go
    Quit,     // the run was stopped before the start
    Left,     // the worker sent something, or closed, while it should only wait: it leaves
};
StartWait wait_for_start(int fd, const RunEvents& events);

// ================================================================================================= worker

// The options every worker has: HOST, PORT, --retry, --delay-ms (`delay_help`), --timeout and -v,--verbose
// (`verbose_help`). The defaults are what `options` holds.
struct WorkerOptions {
    std::string host = "localhost";
    int port = 0;
    int retry_seconds = 10;
    int delay_ms = 0;
    int timeout_seconds = 600;
    bool verbose = false;
};
void add_worker_options(CLI::App& app, WorkerOptions& options, const std::string& delay_help,
                        const std::string& verbose_help);

// Connects to the manager at options.host and options.port, and says so ("worker connected to HOST:PORT").
// The manager may not be listening yet: connection refused is retried for options.retry_seconds, said once.
UniqueFd connect_to_manager(const WorkerOptions& options);

// The worker's conversation on `fd`: sends `hello`, then hands each message of the manager to `work`, which
// answers it, or returns false for a line that is not the protocol. BYE or the manager going away ends it
// with status 0, saying so with `summary()`; a line that is not the protocol (told to the manager), an
// `error:` line, a broken line or `timeout_seconds` of silence throw.
int work_for_manager(int fd, std::string_view hello, size_t max_line, int timeout_seconds,
                     const std::function<bool(const std::string& line)>& work,
                     const std::function<std::string()>& summary);

}  // namespace netutil
