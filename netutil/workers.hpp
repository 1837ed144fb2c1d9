// netutil/workers.hpp: the generic helpers of the manager/worker labs (09_mandelbrot, 10_pi_montecarlo).
//
// A manager waits for N workers, then hands out work (columns, jobs) until all of it is done; a worker
// connects, says HELLO, and answers each piece of work until the manager says BYE. The manager's accept
// loop, its thread per worker and the hand-out are in the labs (09_mandelbrot/server.cpp and manager.hpp,
// which 10 shares). What is here is small and generic, functions the labs call, no class they derive from:
//   manager  the command-line options every manager has (--reply-timeout, --hello-timeout, --bind) and its
//            limits; read_hello, turn_away and wait_for_start: the handshake of one connection.
//   worker   the command-line options every worker has; connect_to_manager (retries while the manager is not
//            listening yet); work_for_manager: HELLO, then each message to the lab until BYE or the end.
// The MPI versions (mpi.cpp) share netutil/mpi.hpp instead: it needs mpi.h, which this library must not.
#pragma once

#include "netutil/cli.hpp"
#include "netutil/fd.hpp"
#include "netutil/signals.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace netutil {

// ================================================================================================ manager

// The bounds every manager enforces, from its command line.
struct ManagerLimits {
    int max_pending;       // connections still saying hello at once; more wait in the backlog
    int pause_ms;          // while accepting is paused, how often the accept loop looks again
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
// A worker's whole command line: `about` (the --help text), those options with `port` as PORT's default;
// a usage error exits 2.
WorkerOptions parse_worker_options(int argc, char** argv, const std::string& about, int port,
                                   const std::string& delay_help, const std::string& verbose_help);

// Connects to the manager at options.host and options.port, and says so ("worker connected to HOST:PORT").
// The manager may not be listening yet: connection refused is retried for options.retry_seconds, said once.
UniqueFd connect_to_manager(const WorkerOptions& options);

// The worker's conversation on `fd`: sends `hello`, then hands each message of the manager to `work`, which
// returns the answer to send, or nothing for a line that is not the protocol. BYE or the manager going away
// ends it with status 0, saying so with `summary()`; a line that is not the protocol (told to the manager), an
// `error:` line, a broken line or `timeout_seconds` of silence throw.
// Answers go out in batches when the manager keeps several messages out (its --prefetch K): an answer is held
// while another message already waits here and fewer than half of the most seen out at once are held, so
// about K/2 leave in one write (one wake-up of the manager instead of K/2), K = 1 and 2 answer each message
// at once, and no answer is held while the worker waits for the manager.
int work_for_manager(int fd, std::string_view hello, size_t max_line, int timeout_seconds,
                     const std::function<std::optional<std::string>(const std::string& line)>& work,
                     const std::function<std::string()>& summary);

}  // namespace netutil
