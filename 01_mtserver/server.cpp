// 01_mtserver/server.cpp: a multithreaded server whose N handler threads each accept one client.
//
// Mirrors: the lecture "Multithreaded Servers" (MCS 275 lecture 32), slide "Waiting for Data from 3 Clients"
// (mtserver.py), and the slide "Summary + Assignments", assignment 2 (`--stop`: a client sending "stop"
// stops every handler).
//
// Watch for: all N threads call accept() on the same listening socket; the kernel gives each connection
// to exactly one of them. A client that connects first but types last does not hold up the others: each
// has its own thread, blocked in its own recv().
//
// Demo (four terminals):
//   ./server 11267 3          or just ./server, and answer "give the number of clients : 3"
//   ./client                  then type: this is A   (type it last)
//   ./client                  then type: this is B
//   ./client                  then type: this is C
// See also: client.cpp (the peer), stopflag.cpp (assignment 1).
#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint16_t kDefaultPort = 11267;
constexpr size_t kBufferSize = 80;           // the slide's buffer: recv() takes at most 80 bytes at a time
constexpr size_t kMaxMessage = 1024 * 1024;  // a longer message is cut off here, and the handler says so
constexpr int kMaxClients = 1000;
// Once told to stop, a handler still takes what has already arrived (a message sent just before Ctrl-C is
// printed, not lost), but no longer waits for more.
constexpr std::chrono::milliseconds kStopGrace{0};

struct Settings {
    uint16_t port = kDefaultPort;
    int nclients = 0;  // 0: asked on stdin
    std::string bind_address = netutil::kAnyAddress;
    bool stop_word = false;  // --stop: the message "stop" stops every handler
};
Settings parse_settings(int argc, char** argv);

// The slide's handler: accept a client, print, recv its message, print again. Every wait also watches
// `stop`: once it is readable (Ctrl-C, or a client said "stop"), every handler wakes up, whether it was
// blocked in accept or in recv, and returns. Nothing is killed or detached: main joins the threads.
void handle_client(const std::string& name, int listen_fd, const netutil::StopPipe& stop, const Settings& settings) {
    netutil::SockAddr peer;
    const netutil::UniqueFd client = netutil::accept_unless_stopped(listen_fd, stop.fd(), &peer);
    if (!client) return netutil::print_line(name + " stops (was waiting for a client)");
    netutil::print_line(name + " accepted request from " + peer.to_string());
    netutil::print_line(name + " waits for data");

    const netutil::Message message =
        netutil::receive_message(client.get(), stop.fd(), kStopGrace, kBufferSize, kMaxMessage);
    if (message.status == netutil::Message::Status::Stopped && message.text.empty())
        return netutil::print_line(name + " stops (was waiting for data)");
    if (message.status == netutil::Message::Status::CutOff)
        netutil::print_line(name + " cut the message off at " + std::to_string(kMaxMessage) + " bytes");
    if (message.text.empty())
        return netutil::print_line(name + " received nothing (the client closed without sending)");
    netutil::print_line(name + " received " + message.text);

    if (settings.stop_word && message.text == "stop") {
        // BEGIN SOLUTION 01.2 "one client's stop stops every handler"
        netutil::print_line(name + " tells every handler to stop");
        stop.request_stop();
        // END SOLUTION
        // BEGIN STUB
        // // TODO (assignment 2): stop every handler thread, also those still blocked in accept (waiting for a
        // // client) or in recv (waiting for data); then main joins them all and the server exits 0. Only
        // // threads can end themselves: wake them with something every wait above already watches.
        // netutil::not_implemented("01.2");
        // END STUB
    }
}

// A handler's failure (say, a connection reset) ends that handler only, never the server.
void run_handler(const std::string& name, int listen_fd, const netutil::StopPipe& stop, const Settings& settings) {
    try {
        handle_client(name, listen_fd, stop, settings);
    } catch (const std::system_error& error) {
        netutil::print_line(name + " failed: " + error.what());
    }
}

}  // namespace

int main(int argc, char** argv) {
    Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        netutil::UniqueFd listener = netutil::tcp_listen(settings.bind_address, settings.port);
        netutil::set_nonblocking(listener.get());
        netutil::print_listening(listener.get());
        if (settings.nclients == 0)
            settings.nclients = static_cast<int>(
                netutil::prompt_number("give the number of clients : ", "the number of clients", 1, kMaxClients));
        netutil::print_line("server is ready for " + netutil::count(settings.nclients, "client"));

        // Ctrl-C, SIGTERM or SIGHUP (the terminal closed: the same graceful stop) only writes a byte into
        // `stop` (async-signal-safe); the handlers do the rest. Started under nohup, SIGHUP stays ignored.
        const netutil::StopPipe stop;
        netutil::stop_on_signals(stop, {SIGINT, SIGTERM, SIGHUP});

        std::vector<std::thread> handlers;
        netutil::print_line("server starts " + netutil::count(settings.nclients, "thread"));
        for (int i = 0; i < settings.nclients; ++i)
            handlers.emplace_back(run_handler, std::to_string(i), listener.get(), std::cref(stop), std::cref(settings));

        // As the slide insists: wait for every handler before closing the server socket.
        for (auto& handler : handlers) handler.join();
        listener.reset();
        if (const int signo = netutil::caught_signal(); signo != 0)
            netutil::print_line("server stopped by " + netutil::signal_name(signo) + ", every handler joined");
        return 0;
    });
}

namespace {

// PORT, NCLIENTS (0 when missing: main asks), --bind and --stop; the limits are in the README, not --help.
Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "Multithreaded server (lecture 32): NCLIENTS handler threads each accept one client and print\n"
        "the message it sends (up to a newline or the client closing). Exits once every handler is done;\n"
        "Ctrl-C, SIGTERM or SIGHUP stop every handler, and the server exits 0."};
    Settings settings;
    int port = kDefaultPort;  // an int, so that 70000 is a usage error, not a port that wrapped round
    app.add_option("PORT", port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    app.add_option("NCLIENTS", settings.nclients,
                   "number of handler threads, one per client,\n"
                   "1 to 1000 (asked on stdin when missing)")
        ->check(netutil::whole_number(1, kMaxClients).description(""));
    app.add_option("--bind", settings.bind_address,
                   "address to listen on (:: is every address, IPv6 and IPv4; 0.0.0.0 is IPv4 only)")
        ->capture_default_str();
    app.add_flag("--stop", settings.stop_word,
                 "assignment 2: a client sending 'stop' stops every handler, also\n"
                 "those waiting in accept or recv (default: off, 'stop' is a message\n"
                 "like any other)");
    netutil::parse_or_exit(app, argc, argv);
    settings.port = static_cast<uint16_t>(port);
    return settings;
}

}  // namespace
