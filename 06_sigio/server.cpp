// 06_sigio/server.cpp: an echo server driven by signals: the kernel tells it, with a realtime signal
// per event, which descriptor became ready and how.
//
// Mirrors the lecture "Network Programming" (Stevens UNP ch. 26/30, Kerrisk TLPI ch. 63), slides
// "Signal-Driven I/O Model", "Signal driven I/O for large no of FDs" and "Server with Signal Driven I/O": the
// listening socket raises SIGRTMIN+1, every connection SIGRTMIN+2 (fcntl F_SETOWN, O_ASYNC | O_NONBLOCK,
// F_SETSIG), and siginfo carries si_fd, si_code (POLL_IN, POLL_OUT, POLL_HUP, ...) and si_band (poll()'s
// revents bits).
//
// Unlike the slide, nothing runs in a signal handler: the slide's handlers call printf, accept, read
// and write on shared globals, and a signal can interrupt the program (or another handler) in the
// middle of printf's own buffer, which is undefined behaviour. Here the signals stay blocked and the
// main loop takes them one at a time with sigwaitinfo(), as ordinary events, where anything is allowed.
//
// Watch for: one line per signal, like the slide's handlers print; realtime signals queue, one per
// event, but the queue is bounded (RLIMIT_SIGPENDING): when it overflows the kernel sends plain SIGIO
// instead, and the server then checks every descriptor so nothing is lost. Signal-driven I/O is edge-
// triggered: each signal says "became ready", so the server reads and accepts until EAGAIN.
//
// Demo (three terminals):
//   ./server 9878
//   ./client                 type: hello   (the server prints the signals and the data)
//   ./client --connections 20 --messages 100 --size 100000      (add --quiet to the server first)
// Force the overflow path: (ulimit -i 4; ./server 9878 --quiet), then the load client above.
// See also: ../07_epoll/client.cpp (the echo client, built here with port 9878); ../07_epoll (select, poll, epoll).
#include "07_epoll/options.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr int kDefaultPort = 9878;
constexpr size_t kReadSize = 64 * 1024;

// PORT, --bind, --quiet, --grace: the same command line as 07's echo servers (07_epoll/options.hpp).
using Settings = echo::ServerOptions;

struct Connection {
    netutil::UniqueFd fd;
    std::string peer;
    std::string output;  // echo the socket would not take yet (EAGAIN): sent on POLL_OUT
    size_t output_sent = 0;
    bool has_output() const { return output_sent < output.size(); }
};

std::string signal_label(int signo) {
    if (signo == SIGIO) return "SIGIO";
    if (signo >= SIGRTMIN && signo <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(signo - SIGRTMIN);
    return netutil::signal_name(signo);
}

std::string code_name(int code) {
    switch (code) {
        case POLL_IN: return "POLL_IN";
        case POLL_OUT: return "POLL_OUT";
        case POLL_MSG: return "POLL_MSG";
        case POLL_ERR: return "POLL_ERR";
        case POLL_PRI: return "POLL_PRI";
        case POLL_HUP: return "POLL_HUP";
    }
    return std::to_string(code);
}

std::string band_names(long band) {
    static const std::pair<long, const char*> kBits[] = {
        {POLLIN, "POLLIN"},         {POLLPRI, "POLLPRI"},       {POLLOUT, "POLLOUT"},       {POLLERR, "POLLERR"},
        {POLLHUP, "POLLHUP"},       {POLLRDNORM, "POLLRDNORM"}, {POLLRDBAND, "POLLRDBAND"}, {POLLWRNORM, "POLLWRNORM"},
        {POLLWRBAND, "POLLWRBAND"}, {POLLMSG, "POLLMSG"},       {POLLRDHUP, "POLLRDHUP"}};
    std::string names;
    for (const auto& [bit, name] : kBits)
        if (band & bit) names += (names.empty() ? "" : "|") + std::string(name);
    return names.empty() ? "0" : names;
}

// The slide's three fcntl calls, plus F_SETSIG: signals for `fd` go to this process, as `signo` with
// siginfo, and I/O on it never blocks.
void enable_signal_driven_io(int fd, int signo) {
    // BEGIN SOLUTION 06.1 "signal-driven I/O on one descriptor"
    netutil::check(::fcntl(fd, F_SETOWN, ::getpid()), "fcntl F_SETOWN");
    const int flags = netutil::check(::fcntl(fd, F_GETFL), "fcntl F_GETFL");
    netutil::check(::fcntl(fd, F_SETFL, flags | O_ASYNC | O_NONBLOCK), "fcntl F_SETFL O_ASYNC|O_NONBLOCK");
    netutil::check(::fcntl(fd, F_SETSIG, signo), "fcntl F_SETSIG");
    // END SOLUTION
    // BEGIN STUB
    // // TODO (assignment 1): make `fd` raise `signo` (with siginfo: si_fd, si_code, si_band) at this process
    // // whenever it becomes ready, and never block: the slide's three fcntl() calls, and F_SETSIG.
    // (void)fd;
    // (void)signo;
    // netutil::not_implemented("06.1");
    // END STUB
}

class SigioServer {
public:
    SigioServer(netutil::UniqueFd listener, const Settings& settings)
        : listener_(std::move(listener)),
          settings_(settings),
          listen_signal_(SIGRTMIN + 1),
          conn_signal_(SIGRTMIN + 2) {}

    int run();

private:
    void log(const std::string& line) const {
        if (!settings_.quiet) netutil::print_line(line);
    }
    void accept_all();
    void serve(int fd);
    bool flush(Connection& connection);
    void close_connection(int fd, const std::string& why);
    [[maybe_unused]] void check_everything();  // (unused in the handout, until assignment 06.1 calls it)
    Connection* find(int fd) { return fd >= 0 && size_t(fd) < table_.size() ? table_[fd].get() : nullptr; }

    netutil::UniqueFd listener_;
    Settings settings_;
    const int listen_signal_;
    const int conn_signal_;
    std::vector<std::unique_ptr<Connection>> table_;  // indexed by descriptor
    size_t open_ = 0;
    std::vector<char> buffer_ = std::vector<char>(kReadSize);
    bool short_of_descriptors_ = false;  // accept met EMFILE: clients wait in the backlog
    bool accept_due_ = false;            // a descriptor was freed meanwhile: accept them now
    uint64_t accepted_ = 0, bytes_ = 0, signals_ = 0, overflows_ = 0, stale_ = 0, pauses_ = 0;
};

// Signal-driven I/O is edge-triggered: one signal when connections arrive, however many: accept them all.
void SigioServer::accept_all() {
    for (;;) {
        netutil::SockAddr peer;
        const int fd = ::accept4(listener_.get(), peer.get(), &peer.length, SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors: the clients wait in the backlog, and the next close accepts them
                // (the listening socket raised its signal once, and will not raise it again for them).
                // Said once per shortage: each new client raises a signal, and meets EMFILE again.
                if (!short_of_descriptors_) {
                    netutil::print_line("out of descriptors (accept: " + std::string(std::strerror(errno)) + ") with " +
                                        netutil::count(open_, "client") +
                                        " connected: new clients wait in the backlog");
                    ++pauses_;
                }
                short_of_descriptors_ = true;
                return;
            }
            netutil::throw_errno("accept");
        }
        netutil::UniqueFd owned(fd);
        if (short_of_descriptors_) {
            short_of_descriptors_ = false;
            netutil::print_line("accepting again (" + netutil::count(open_, "client") + " connected)");
        }
        enable_signal_driven_io(fd, conn_signal_);
        if (size_t(fd) >= table_.size()) table_.resize(size_t(fd) + 1);
        table_[fd] = std::make_unique<Connection>(Connection{std::move(owned), peer.to_string(), {}, 0});
        ++open_;
        ++accepted_;
        log("accepted " + peer.to_string() + " on fd " + std::to_string(fd) + ", which raises " +
            signal_label(conn_signal_));
        // Bytes that came before O_ASYNC was set raised no signal: look now.
        serve(fd);
    }
}

// Whatever the event (input, room for output, hang-up, error): send what is kept, then read and echo
// until EAGAIN. Reading is paused while output is kept, and resumed by the POLL_OUT that follows.
void SigioServer::serve(int fd) {
    Connection* connection = find(fd);
    if (connection == nullptr) return;
    if (!flush(*connection)) return;
    while (!connection->has_output()) {
        const ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
        if (n == -1) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            close_connection(fd, std::string("read: ") + std::strerror(errno));
            return;
        }
        if (n == 0) {
            close_connection(fd, "end of input");
            return;
        }
        bytes_ += size_t(n);
        if (!settings_.quiet) {
            std::string text(buffer_.data(), size_t(n));
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
            const bool printable = n <= 60 && text.find_first_of(std::string("\0\n\r", 3)) == std::string::npos;
            log("data from fd " + std::to_string(fd) + ": " + (printable ? "\"" + text + "\" " : std::string()) + "(" +
                netutil::count(n, "byte") + ")");
        }
        connection->output.assign(buffer_.data(), size_t(n));
        connection->output_sent = 0;
        if (!flush(*connection)) return;
    }
}

// False if the connection was closed.
bool SigioServer::flush(Connection& connection) {
    const int fd = connection.fd.get();
    while (connection.has_output()) {
        const ssize_t n = ::send(fd, connection.output.data() + connection.output_sent,
                                 connection.output.size() - connection.output_sent, MSG_NOSIGNAL);
        if (n == -1) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                log("fd " + std::to_string(fd) + ": output full, " +
                    netutil::count(connection.output.size() - connection.output_sent, "byte") + " kept until POLL_OUT");
                return true;
            }
            close_connection(fd, std::string("write: ") + std::strerror(errno));
            return false;
        }
        connection.output_sent += size_t(n);
    }
    connection.output.clear();
    connection.output_sent = 0;
    return true;
}

void SigioServer::close_connection(int fd, const std::string& why) {
    log("socket " + std::to_string(fd) + " closed (" + table_[fd]->peer + "): " + why);
    table_[fd].reset();
    --open_;
    // A descriptor is free: clients that met EMFILE may be waiting in the backlog, and their signal came
    // and went. The main loop accepts them after this event (not from here: a client accepted here could
    // close at once and bring us back, one level deeper each time).
    if (short_of_descriptors_) accept_due_ = true;
}

// The realtime queue overflowed: signals (events) were lost, we cannot know which. Throw away what is
// still queued, and look at every descriptor instead, as if each had signalled.
void SigioServer::check_everything() {
    const sigset_t realtime = netutil::signal_set({listen_signal_, conn_signal_});
    const timespec now{0, 0};
    siginfo_t info{};
    size_t discarded = 0;
    while (::sigtimedwait(&realtime, &info, &now) > 0) ++discarded;
    ++overflows_;
    if (!settings_.quiet || overflows_ == 1)  // --quiet: the first one, and the count in the summary
        // At the first overflow (a burst of new clients) no connection may be open yet: the listening socket's
        // backlog is what gets checked then.
        netutil::print_line("realtime signal queue overflow (SIGIO): " + netutil::count(discarded, "queued signal") +
                            " discarded, checking the listening socket and " +
                            (open_ == 0 ? std::string("no open connection yet")
                                        : "every open connection (" + std::to_string(open_) + ")"));
    if (listener_) accept_all();
    for (size_t fd = 0; fd < table_.size(); ++fd)
        if (table_[fd]) serve(static_cast<int>(fd));
}

int SigioServer::run() {
    sigset_t waited = netutil::stop_signal_set();
    for (const int signo : {listen_signal_, conn_signal_, SIGIO}) ::sigaddset(&waited, signo);
    enable_signal_driven_io(listener_.get(), listen_signal_);
    netutil::print_line("listening socket fd " + std::to_string(listener_.get()) + " raises " +
                        signal_label(listen_signal_) + ", connections raise " + signal_label(conn_signal_) +
                        ", a full realtime queue raises SIGIO");
    accept_all();  // clients that came before O_ASYNC

    int stop_signal = 0;
    using Clock = std::chrono::steady_clock;
    Clock::time_point deadline{};
    for (;;) {
        while (accept_due_) {  // a connection closed while clients waited for a descriptor
            accept_due_ = false;
            if (listener_) accept_all();
        }
        siginfo_t info{};
        int signo;
        if (stop_signal == 0) {
            signo = ::sigwaitinfo(&waited, &info);
        } else {
            if (open_ == 0) break;
            const auto left = deadline - Clock::now();
            if (left <= Clock::duration::zero()) break;
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
            const timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
            signo = ::sigtimedwait(&waited, &info, &timeout);
        }
        if (signo == -1) {
            if (errno == EINTR || errno == EAGAIN) continue;
            netutil::throw_errno("sigwaitinfo");
        }
        ++signals_;
        if (signo == SIGINT || signo == SIGTERM || signo == SIGHUP) {  // SIGHUP: the terminal closed
            if (stop_signal != 0) continue;
            stop_signal = signo;
            listener_.reset();  // no new clients
            deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(settings_.grace_seconds * 1000));
            if (open_ > 0)
                netutil::print_line("stopping: no new clients; waiting up to " +
                                    std::to_string(int(settings_.grace_seconds)) + " s for " +
                                    netutil::count(open_, "connected client") + " to leave");
            continue;
        }
        if (signo == SIGIO) {
            // BEGIN SOLUTION 06.1 "the realtime queue overflowed"
            check_everything();
            continue;
            // END SOLUTION
            // BEGIN STUB
            // // TODO (assignment 1): the realtime queue overflowed, signals (events) were lost: which ones,
            // // nobody can tell. See check_everything().
            // netutil::not_implemented("06.1");
            // END STUB
        }
        const int fd = info.si_fd;
        log("no:" + std::to_string(signo) + " (" + signal_label(signo) + "), for fd:" + std::to_string(fd) +
            ", event code:" + code_name(info.si_code) + ", event band:" + band_names(info.si_band));
        // BEGIN SOLUTION 06.1 "one realtime signal: which descriptor, what to do"
        if (signo == listen_signal_) {
            if (listener_ && fd == listener_.get()) accept_all();
            continue;
        }
        if (find(fd) == nullptr) {
            ++stale_;  // queued before that socket closed: nothing to do
            continue;
        }
        serve(fd);
        // END SOLUTION
        // BEGIN STUB
        // // TODO (assignment 1): the listening socket's signal: accept every waiting client (accept_all);
        // // a connection's: serve it (serve), unless the socket closed since the signal was queued.
        // netutil::not_implemented("06.1");
        // END STUB
    }
    if (open_ > 0) netutil::print_line("grace period over: closing " + netutil::count(open_, "connection"));
    table_.clear();
    netutil::print_line("server stopped" + (stop_signal ? " by " + netutil::signal_name(stop_signal) : std::string()) +
                        ": " + netutil::count(accepted_, "connection") + " served, " + netutil::count(bytes_, "byte") +
                        " echoed, " + netutil::count(signals_, "signal") + " taken, " +
                        netutil::count(overflows_, "realtime queue overflow") + ", " +
                        netutil::count(stale_, "signal") + " for closed sockets, " + std::to_string(pauses_) +
                        " accept pauses (EMFILE)");
    netutil::print_line("CPU time: " + netutil::format_cpu_time(netutil::cpu_time_self()));
    return 0;
}

Settings parse_settings(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);

    return netutil::run_main([&] {
        // Blocked before anything can raise them: they wait in the queue until sigwaitinfo() takes them.
        sigset_t blocked = netutil::stop_signal_set();
        for (const int signo : {SIGRTMIN + 1, SIGRTMIN + 2, SIGIO}) ::sigaddset(&blocked, signo);
        netutil::block_signals(blocked);
        netutil::ignore_sigpipe();
        netutil::UniqueFd listener = netutil::tcp_listen(settings.bind_address, static_cast<uint16_t>(settings.port));
        netutil::print_listening(listener.get());
        SigioServer server(std::move(listener), settings);
        return server.run();
    });
}

namespace {

// PORT, --bind, --quiet, --grace. The limits are in the README ("Limits").
Settings parse_settings(int argc, char** argv) {
    return echo::parse_server_options(
        argc, argv,
        "Signal-driven I/O echo server (lecture: Server with Signal Driven I/O). Every byte a client sends\n"
        "comes back. The listening socket raises SIGRTMIN+1 and each connection SIGRTMIN+2; the server\n"
        "takes them with sigwaitinfo() and prints each one (si_fd, si_code, si_band). Ctrl-C, SIGTERM or\n"
        "SIGHUP: stop accepting, let connected clients finish (--grace), print a summary, exit 0.",
        kDefaultPort, "no line per signal, connection or read (the first overflow and the\nsummary are still printed)");
}

}  // namespace
