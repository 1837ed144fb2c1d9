// 03_udp_mp/models.hpp: what the four UDP server models share: their settings, the replies, the
// square of the exercise, datagrams in and out, and signals taken as events.
//
// The models themselves are one file each: iterative.cpp, fork_per_datagram.cpp, pool.cpp,
// conversation.cpp. Every model is single-threaded, so forking is safe (a child of a multithreaded
// parent could find a lock held by a thread that does not exist in the child).
#pragma once

#include "netutil/fd.hpp"
#include "netutil/socket.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace udp {

inline constexpr uint16_t kDefaultPort = 10001;  // the lecture's server_port
inline constexpr size_t kMaxDatagram = 65507;    // the largest UDP payload over IPv4
inline constexpr size_t kMaxDigits = 1000;       // --square: longer numbers get an error reply
inline constexpr char kIterativeReply[] = "Hi client! Nice to connect with you!";
inline constexpr char kGoodbye[] = "bye";  // ends a conversation (conversation mode)
inline constexpr char kBusy[] = "busy: ";  // conversation mode, every child busy: the client tries again later

enum class Mode { Iterative, Fork, Pool, Conversation };

struct Settings {
    uint16_t port = kDefaultPort;
    Mode mode = Mode::Iterative;
    std::string bind_address = netutil::kAnyAddress;
    bool square = false;       // the exercise: the reply to a number is its square
    int workers = 4;           // pool: the lecture's number_processes = 4
    int max_children = 256;    // fork, conversation: children alive at once (256, like the TCP labs)
    double idle_seconds = 10;  // conversation: a child ends after this long without a datagram
    double grace_seconds = 5;  // Ctrl-C: how long children get to finish before SIGKILL
    int delay_ms = 0;          // every reply waits this long: a slow request, to watch the modes differ
};

// The reply to `message` from `client`: the square (or an error) with --square; otherwise the slide's
// greeting, the iterative one, or `Hi ADDR:PORT. This is server PID` naming the process that answers.
// With --delay-ms it first sleeps that long, in the process that answers (the slow request of the lecture).
std::string reply_for(const Settings& settings, std::string_view message, const netutil::SockAddr& client);

// --square: the square of a decimal number (integer or with a fraction, any sign, up to kMaxDigits
// digits; computed digit by digit, so it never overflows), or `error: ...` for anything else.
std::string square_reply(std::string_view message);

// A datagram as text fit for one log line: non-printable bytes as \xNN, long ones cut, with the size.
std::string printable(std::string_view data, size_t max_shown = 120);

struct Datagram {
    std::string data;
    netutil::SockAddr from;
};
// recvfrom() on a non-blocking socket; std::nullopt when there is nothing (another process took it).
std::optional<Datagram> receive(int fd);
// sendto() the reply; a failure is logged, never fatal: it costs this one datagram.
bool send_reply(int fd, std::string_view reply, const netutil::SockAddr& to);

// Signals as events: blocks `signals` in this process and reads them from a signalfd, which a model
// polls beside its socket. Owns the signalfd. Every model and every child stops on SIGINT (Ctrl-C), SIGTERM
// (kill) and SIGHUP (its terminal closed: the kit treats it exactly like SIGTERM, a graceful stop, exit 0).
class SignalEvents {
public:
    explicit SignalEvents(std::initializer_list<int> signals);
    int fd() const { return fd_.get(); }
    // The signals that have arrived since the last call, in order.
    std::vector<int> take();
    void close() { fd_.reset(); }

private:
    netutil::UniqueFd fd_;
};

enum class Event { Datagram, Signal, TimedOut };
// Waits for the socket (`socket_fd`, -1: not now) or a signal, at most `timeout_ms` (-1: forever).
Event wait_event(int socket_fd, const SignalEvents& signals, int timeout_ms = -1);

// The parent's side of the fork and conversation modes: its children, and --max-children.
class Children {
public:
    // `full_line` is said once, the first time the limit is reached.
    Children(int max_children, std::string full_line) : max_(max_children), full_line_(std::move(full_line)) {}
    // True while `max_children` are running (fork: the parent then stops reading the socket until one ends;
    // conversation: a new client is told it is busy).
    bool full();
    void add(pid_t pid) { pids_.insert(pid); }
    // Takes the signals from the signalfd (SIGCHLD among them): every finished child is reaped and dropped.
    // Returns the stop signal if one came (SIGINT, SIGTERM or SIGHUP), 0 if none.
    int take_signals(SignalEvents& signals);
    size_t running() const { return pids_.size(); }
    long times_full() const { return times_full_; }
    // ", the --max-children limit (N) was reached M times" for the summary, "" when it never was.
    std::string limit_note() const;
    std::set<pid_t>& pids() { return pids_; }

private:
    int max_;
    std::string full_line_;
    std::set<pid_t> pids_;
    bool was_full_ = false;
    long times_full_ = 0;
};

// Waits until every child in `children` has ended and is reaped (SIGTERM first when `terminate`),
// sending SIGKILL to those still running after `grace_seconds`. `signals` must include SIGCHLD.
void reap_all(std::set<pid_t>& children, SignalEvents& signals, double grace_seconds, bool terminate);

// Counters in memory shared with the children (MAP_SHARED), so the parent can sum up what they served.
class SharedCounters {
public:
    explicit SharedCounters(size_t count);
    ~SharedCounters();
    SharedCounters(const SharedCounters&) = delete;
    SharedCounters& operator=(const SharedCounters&) = delete;
    std::atomic<long>& operator[](size_t i) { return counters_[i]; }
    size_t size() const { return count_; }

private:
    static_assert(std::atomic<long>::is_always_lock_free, "atomics shared between processes must be lock-free");
    std::atomic<long>* counters_;
    size_t count_;
};

// Forks; in the child runs `body`, which returns the exit status, and ends with _exit() so the child
// never unwinds into main and never prints the parent's summary. Returns the child's pid; a failed fork
// throws std::system_error (the caller decides what that costs: a datagram, a worker).
template <typename Body>
pid_t fork_child(Body&& body);

// The parent of the fork and conversation modes: until SIGINT, SIGTERM or SIGHUP, it reads a datagram from
// the well-known port and hands it to `serve`, telling it whether --max-children are running; each child
// that ends is reaped as SIGCHLD reports it (then `on_reaped` runs, when given). At the limit, the fork mode
// stops reading (`pause_when_full`); the conversation mode reads on. Returns the stop signal.
int parent_loop(int socket_fd, SignalEvents& signals, Children& children, bool pause_when_full,
                const std::function<void(const Datagram& datagram, bool full)>& serve,
                const std::function<void()>& on_reaped = {});

// Forks a child for a datagram (fork, conversation) and adds it to `children`. A failed fork costs that
// datagram only: the parent says so and reads on, the client will retry. Returns the pid, 0 on failure.
template <typename Body>
pid_t fork_for_datagram(Children& children, Body&& body);

// The four models. Each returns main's exit status once stopped by SIGINT, SIGTERM or SIGHUP.
int run_iterative(int socket_fd, const Settings& settings);
int run_fork_per_datagram(int socket_fd, const Settings& settings);
int run_pool(int socket_fd, const Settings& settings);
int run_conversation(int socket_fd, const Settings& settings);

}  // namespace udp

#include "netutil/error.hpp"
#include "netutil/output.hpp"

#include <exception>
#include <system_error>
#include <unistd.h>

template <typename Body>
pid_t udp::fork_child(Body&& body) {
    const pid_t pid = ::fork();
    if (pid == -1) netutil::throw_errno("fork");
    if (pid != 0) return pid;
    int status = 1;
    try {
        status = body();
    } catch (const std::exception& error) {
        netutil::print_error(netutil::program_name() + " (child " + std::to_string(::getpid()) + "): " + error.what());
    }
    ::_exit(status);
}

template <typename Body>
pid_t udp::fork_for_datagram(Children& children, Body&& body) {
    try {
        const pid_t pid = fork_child(std::forward<Body>(body));
        children.add(pid);
        return pid;
    } catch (const std::system_error& error) {
        netutil::print_line("fork failed: " + error.code().message() + ": no reply (the client will retry)");
        return 0;
    }
}
