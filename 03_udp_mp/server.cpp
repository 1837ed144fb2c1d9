// 03_udp_mp/server.cpp: one UDP server, four ways to serve datagrams concurrently (or not).
//
// Mirrors: the lecture "Client-server architecture model: with sockets and multiprocessing in Python" (all
// of it: the UDP server, a process per datagram, the process Pool, the "send a number, get its square"
// exercise) and the lecture "Network Programming", slide "Concurrency UDP Servers" (UNP 22.7).
//   --mode iterative     iterative.cpp          one process, one datagram at a time
//   --mode fork          fork_per_datagram.cpp  a child process per datagram, reaped as it ends
//   --mode pool          pool.cpp               N pre-forked workers reading the shared socket
//   --mode conversation  conversation.cpp       a child per client, on a new port, for a whole exchange
//   --square             any mode: the reply to a number is its square (the exercise)
//
// Watch for: the pid in the replies (fork: a new one each time; pool: only the pool's pids; conversation:
// one per client) and, in conversation mode, the port the replies come from.
//
// Demo (two or more terminals):
//   ./server 10001 --mode fork          then   ./client localhost 10001 --processes 3
//   ./server 10001 --mode pool --workers 4      ./client localhost 10001 --processes 8
//   ./server 10001 --mode conversation          ./client localhost 10001 hello --count 3
//   ./server 10001 --square                     ./client localhost 10001 12345678901234567890
//   ./server 10001 --mode fork --delay-ms 2000  ./client localhost 10001 --processes 3   (all three at once)
// See also: client.cpp, models.hpp (what the modes share).
#include "models.hpp"

#include "netutil/cli.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <csignal>
#include <map>
#include <string>

namespace {

udp::Settings parse_settings(int argc, char** argv);

const char* describe(udp::Mode mode) {
    switch (mode) {
        case udp::Mode::Iterative: return "iterative: one datagram at a time";
        case udp::Mode::Fork: return "fork: a child process per datagram";
        case udp::Mode::Pool: return "pool: pre-forked worker processes share the socket";
        case udp::Mode::Conversation: return "conversation: a child process and a new port per client";
    }
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    const udp::Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();  // inherited by every child: a stray SIGPIPE never kills a server
        // The models take their signals from a signalfd; blocked from here on, a signal sent as soon as the
        // listening line is out waits for the model's signalfd instead of killing the server.
        netutil::block_signals(netutil::signal_set({SIGINT, SIGTERM, SIGHUP, SIGCHLD}));
        const netutil::UniqueFd socket = netutil::udp_bind(settings.bind_address, settings.port);
        // Non-blocking: in the pool every worker wakes for a datagram and only one gets it; in the other
        // modes a wake-up with nothing to read must not block the process either.
        netutil::set_nonblocking(socket.get());
        netutil::print_listening(socket.get());
        netutil::print_line(std::string("mode ") + describe(settings.mode) +
                            (settings.square ? "; --square: the reply to a number is its square" : ""));
        switch (settings.mode) {
            case udp::Mode::Iterative: return udp::run_iterative(socket.get(), settings);
            case udp::Mode::Fork: return udp::run_fork_per_datagram(socket.get(), settings);
            case udp::Mode::Pool: return udp::run_pool(socket.get(), settings);
            case udp::Mode::Conversation: return udp::run_conversation(socket.get(), settings);
        }
        return 1;
    });
}

namespace {

// PORT, --mode and each mode's options (an option for another mode is a usage error); the limits are in
// the README, not --help.
udp::Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "Concurrent UDP servers with processes (client-server lecture; UNP 22.7). The reply names the\n"
        "process that sent it. Ctrl-C, SIGTERM or SIGHUP stops the server and every child, and prints a\n"
        "summary. A datagram holds up to 65507 bytes."};
    udp::Settings settings;
    int port = udp::kDefaultPort;
    const std::map<std::string, udp::Mode> modes{{"iterative", udp::Mode::Iterative},
                                                 {"fork", udp::Mode::Fork},
                                                 {"pool", udp::Mode::Pool},
                                                 {"conversation", udp::Mode::Conversation}};
    app.add_option("PORT", port, "UDP port to bind (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    std::string mode_name = "iterative";
    app.add_option("--mode", mode_name,
                   "iterative (one datagram at a time) | fork (a process per datagram)\n"
                   "| pool (--workers pre-forked processes) | conversation (a process\n"
                   "and a new port per client)")
        ->type_name("MODE")
        ->capture_default_str()
        ->transform(netutil::one_of({"iterative", "fork", "pool", "conversation"}));
    auto* workers = app.add_option("-w,--workers", settings.workers, "pool: number of worker processes")
                        ->capture_default_str()
                        ->check(netutil::whole_number(1, 256));
    app.add_flag("--square", settings.square,
                 "the exercise: reply to a number with its square\n(a decimal of at most " +
                     std::to_string(udp::kMaxDigits) +
                     " digits, any sign, with a fraction or not;\nanything else: an error reply)");
    auto* max_children = app.add_option("--max-children", settings.max_children,
                                        "fork, conversation: children alive at once\n"
                                        "(at the limit fork stops reading until one ends, conversation\n"
                                        "answers a new client `busy: ...`, its retry gets through once\n"
                                        "one ends)")
                             ->capture_default_str()
                             ->check(netutil::whole_number(1, 10000));
    auto* idle = app.add_option("--idle-timeout", settings.idle_seconds,
                                "conversation: seconds of silence that end a conversation\n"
                                "(no datagram from its client; else it ends on `bye`)")
                     ->capture_default_str()
                     ->check(netutil::real_number(0.01, 3600.0));
    app.add_option("--grace", settings.grace_seconds, "Ctrl-C: seconds the children get to finish before SIGKILL")
        ->capture_default_str()
        ->check(netutil::real_number(0.0, 600.0));
    app.add_option("--delay-ms", settings.delay_ms,
                   "every reply waits this long, in the process that answers\n"
                   "(a slow request: iterative serves one at a time, the others overlap)")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 60000));
    app.add_option("--bind", settings.bind_address,
                   "address to bind (:: is every address, IPv6 and IPv4; 0.0.0.0 is IPv4 only)")
        ->capture_default_str();
    netutil::parse_or_exit(app, argc, argv);
    settings.port = static_cast<uint16_t>(port);
    settings.mode = modes.at(mode_name);
    if (workers->count() > 0 && settings.mode != udp::Mode::Pool) netutil::usage_error("--workers is for --mode pool");
    if (max_children->count() > 0 && settings.mode != udp::Mode::Fork && settings.mode != udp::Mode::Conversation)
        netutil::usage_error("--max-children is for --mode fork or conversation");
    if (idle->count() > 0 && settings.mode != udp::Mode::Conversation)
        netutil::usage_error("--idle-timeout is for --mode conversation");
    return settings;
}

}  // namespace
