// 07_epoll/server.cpp: one process, one thread, many clients: an echo server in five modes.
//
// Mirrors the lecture "Network Programming" (Stevens UNP ch. 26/30, Kerrisk TLPI ch. 63), slides "Single
// Process Servers" to "Event Driven Architectures": C10k, level- vs edge-triggered notification, select() and
// poll() against epoll (the CPU-time table: bench/07_epoll.sh), and the epoll server of the slides
// (epoll_create, epoll_ctl, epoll_wait, accept and add to the interest list, read and write back, close on
// EOF); then "Reactor and Proactor": the same server on io_uring.
//
//   --mode select    select.cpp   level-triggered; cannot watch descriptors >= FD_SETSIZE (refused)
//   --mode poll      poll.cpp     level-triggered; the whole list passed in and scanned on every call
//   --mode epoll     epoll.cpp    level-triggered; the kernel keeps the list, returns only ready sockets
//   --mode epoll-et  epoll.cpp    edge-triggered; must read and accept until EAGAIN
//   --mode uring     uring.cpp    io_uring: the kernel reports operations completed (the Proactor)
//
// Watch for: one thread serves every client, none waits for another; a client that stops reading
// gets its echo kept in its own output buffer (models.cpp) while the others go on; out of
// descriptors (EMFILE) the server pauses accepting instead of spinning.
//
// Demo (three terminals):
//   ./server 9879 --mode epoll
//   ./client                                     type lines, each comes back
//   ./client --idle 1000 --connections 10 --messages 1000
// See also: client.cpp, ../06_sigio (signal-driven I/O), bench/07_epoll.sh (the lecture's table).
#include "07_epoll/models.hpp"
#include "07_epoll/options.hpp"

#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"
#include "netutil/uring.hpp"

#include <climits>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace {

constexpr int kDefaultPort = 9879;

// Servers of many connections raise their soft descriptor limit to the hard one (as nginx's
// worker_rlimit_nofile does). Returns the limit now in force.
rlim_t raise_descriptor_limit() {
    rlimit limit{};
    netutil::check(::getrlimit(RLIMIT_NOFILE, &limit), "getrlimit RLIMIT_NOFILE");
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        netutil::check(::setrlimit(RLIMIT_NOFILE, &limit), "setrlimit RLIMIT_NOFILE");
    }
    return limit.rlim_cur;
}

std::string describe(echo::Mode mode) {
    switch (mode) {
        case echo::Mode::Select:
            return "select(), level-triggered, descriptors below FD_SETSIZE (" + std::to_string(FD_SETSIZE) + ") only";
        case echo::Mode::Poll: return "poll(), level-triggered";
        case echo::Mode::Epoll: return "epoll, level-triggered";
        case echo::Mode::EpollEt: return "epoll, edge-triggered (EPOLLET), drained to EAGAIN";
        case echo::Mode::Uring: return "io_uring, completion-based (the Proactor)";
    }
    return "?";
}

echo::Settings parse_settings(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    const echo::Settings settings = parse_settings(argc, argv);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        // Where the kernel refuses io_uring, say why (netutil::UringUnavailable) before anyone can connect.
        if (settings.mode == echo::Mode::Uring) netutil::Ring probe(1);
        const rlim_t fd_limit = raise_descriptor_limit();
        netutil::UniqueFd listener = netutil::tcp_listen(settings.bind_address, static_cast<uint16_t>(settings.port));
        netutil::print_listening(listener.get());
        netutil::print_line("mode " + echo::mode_name(settings.mode) + ": " + describe(settings.mode) +
                            "; descriptor limit " + std::to_string(fd_limit) + "; pid " + std::to_string(::getpid()));

        // The stop signals are blocked and arrive on a signalfd, which the loop watches like a socket: no
        // handler runs at all, so no system call is interrupted and no signal can slip past a wait.
        const sigset_t stop_signals = netutil::stop_signal_set();
        netutil::block_signals(stop_signals);
        const netutil::UniqueFd stop = netutil::make_signalfd(stop_signals);

        echo::EchoServer server(std::move(listener), settings,
                                settings.mode == echo::Mode::Select ? FD_SETSIZE : INT_MAX);
        switch (settings.mode) {
            case echo::Mode::Select: echo::run_select(server, stop.get()); break;
            case echo::Mode::Poll: echo::run_poll(server, stop.get()); break;
            case echo::Mode::Epoll: echo::run_epoll(server, stop.get(), false); break;
            case echo::Mode::EpollEt: echo::run_epoll(server, stop.get(), true); break;
            case echo::Mode::Uring: echo::run_uring(server, stop.get()); break;
        }
        if (server.open_count() > 0)
            netutil::print_line("grace period over: closing " + netutil::count(server.open_count(), "connection"));
        server.close_all();
        signalfd_siginfo info{};  // the signal that stopped the loop, still pending: take it now
        const bool got = ::read(stop.get(), &info, sizeof info) == ssize_t(sizeof info);
        server.print_summary(got ? static_cast<int>(info.ssi_signo) : 0);
        return 0;
    });
}

namespace {

// PORT, --mode, --bind, --quiet, --grace. The limits are in the README ("Limits").
echo::Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "Single-process echo server (lecture: single process servers, select/poll/epoll). Every byte a\n"
        "client sends comes back; one thread serves all clients. Ctrl-C, SIGTERM or SIGHUP: stop\n"
        "accepting, let connected clients finish (--grace), print a summary and CPU time, exit 0."};
    echo::Settings settings;
    app.add_option("--mode", settings.mode,
                   "how to wait for many sockets: select, poll, epoll\n"
                   "(level-triggered), epoll-et (edge-triggered), or uring\n"
                   "(io_uring: completions, the Proactor)")
        ->transform(netutil::one_of(echo::kModeNames).description(""))
        ->type_name("TEXT")
        ->default_str("epoll");
    echo::add_server_options(app, settings, kDefaultPort,
                             "no line per connection or read (for thousands of clients and\n"
                             "benchmarks); out-of-descriptor lines and the summary are still printed");
    netutil::parse_or_exit(app, argc, argv);
    return settings;
}

}  // namespace
