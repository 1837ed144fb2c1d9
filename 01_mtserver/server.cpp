// 01_mtserver/server.cpp: a multithreaded server whose N handler threads each accept one client.
//
// Mirrors: seeds/01_lecture_multithreaded_servers.txt, section 2 "Waiting for Data from 3 Clients"
// (mtserver.py), and assignment 2 (`--stop`: a client sending "stop" stops every handler).
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
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint16_t kDefaultPort = 11267;
constexpr size_t kBufferSize = 80;           // the slide's buffer: recv() takes at most 80 bytes at a time
constexpr size_t kMaxMessage = 1024 * 1024;  // a longer message is cut off here, and the handler says so

struct Settings {
    bool stop_word = false;  // --stop: the message "stop" stops every handler
};

// Every blocking wait of a handler also watches `stop`: once it is readable (Ctrl-C, or a client said
// "stop"), every handler wakes up, whether it was blocked in accept or in recv, and returns. Nothing is
// killed or detached: the threads end by themselves and main joins them.
void handle_client(const std::string& name, int listen_fd, const netutil::StopPipe& stop, const Settings& settings) {
    // accept: several handlers may wake for the same connection; the losers find nothing to accept
    // (the socket is non-blocking) and go back to waiting.
    netutil::UniqueFd client;
    netutil::SockAddr peer;
    while (!client) {
        if (netutil::wait_readable(listen_fd, stop.fd()) == netutil::Wait::Stopped) {
            netutil::print_line(name + " stops (was waiting for a client)");
            return;
        }
        client = netutil::accept_client(listen_fd, &peer);
    }
    netutil::print_line(name + " accepted request from " + peer.to_string());
    netutil::print_line(name + " waits for data");

    // recv, kBufferSize bytes at a time, until the client ends its message with a newline or closes.
    // Once told to stop, the handler still takes what has already arrived (a message sent just before
    // Ctrl-C is printed, not lost), but no longer waits for more.
    std::string message;
    char buffer[kBufferSize];
    bool stopping = false;
    for (;;) {
        if (!stopping && netutil::wait_readable(client.get(), stop.fd()) == netutil::Wait::Stopped) stopping = true;
        if (stopping && netutil::wait_readable(client.get(), -1, 0) != netutil::Wait::Ready) {
            if (message.empty()) {
                netutil::print_line(name + " stops (was waiting for data)");
                return;
            }
            break;  // the part that came is printed: the stop ended the message
        }
        const size_t n = netutil::read_some(client.get(), buffer, sizeof buffer);
        if (n == 0) break;  // the client closed its side: the message is complete
        message.append(buffer, n);
        if (message.find('\n') != std::string::npos) break;
        if (message.size() > kMaxMessage) {
            netutil::print_line(name + " cut the message off at " + std::to_string(kMaxMessage) + " bytes");
            message.resize(kMaxMessage);  // the rest is never read: closing the connection discards it
            break;
        }
    }
    if (const auto end = message.find('\n'); end != std::string::npos) message.resize(end);
    if (!message.empty() && message.back() == '\r') message.pop_back();

    if (message.empty()) {
        netutil::print_line(name + " received nothing (the client closed without sending)");
        return;
    }
    netutil::print_line(name + " received " + message);
    if (settings.stop_word && message == "stop") {
        netutil::print_line(name + " tells every handler to stop");
        stop.request_stop();
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
    CLI::App app{
        "Multithreaded server (lecture 32): NCLIENTS handler threads each accept one client and print\n"
        "the message it sends (up to a newline or the client closing). Exits once every handler is done.\n"
        "Limits: at most NCLIENTS clients are served, one per handler, fixed at start (more clients wait\n"
        "in the listen backlog); a message is cut off at 1 MiB, and the handler says so.\n"
        "Ctrl-C, SIGTERM or SIGHUP stop every handler (a message already received is still printed),\n"
        "and the server exits 0."};
    int port = kDefaultPort;
    int nclients = 0;
    std::string bind_address = netutil::kAnyAddress;
    Settings settings;
    app.add_option("PORT", port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    auto* nclients_option = app.add_option("NCLIENTS", nclients,
                                           "number of handler threads, one per client,\n"
                                           "1 to 1000 (asked on stdin when missing)")
                                ->check(netutil::whole_number(1, 1000).description(""));
    app.add_option("--bind", bind_address,
                   "address to listen on (:: is every address, IPv6 and IPv4; 0.0.0.0 is IPv4 only)")
        ->capture_default_str();
    app.add_flag("--stop", settings.stop_word,
                 "assignment 2: a client sending 'stop' stops every handler, also\n"
                 "those waiting in accept or recv (default: off, 'stop' is a message\n"
                 "like any other)");
    netutil::parse_or_exit(app, argc, argv);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        netutil::UniqueFd listener = netutil::tcp_listen(bind_address, static_cast<uint16_t>(port));
        netutil::set_nonblocking(listener.get());
        netutil::print_listening(listener.get());

        if (nclients_option->count() == 0)
            nclients = static_cast<int>(
                netutil::prompt_number("give the number of clients : ", "the number of clients", 1, 1000));
        netutil::print_line("server is ready for " + netutil::count(nclients, "client"));

        // Ctrl-C, SIGTERM or SIGHUP (the terminal closed: the same graceful stop) only writes a byte into
        // `stop` (async-signal-safe); the handlers do the rest. Started under nohup, SIGHUP stays ignored.
        const netutil::StopPipe stop;
        netutil::stop_on_signals(stop, {SIGINT, SIGTERM, SIGHUP});  // an ignored SIGHUP (nohup) stays ignored

        std::vector<std::thread> handlers;
        netutil::print_line("server starts " + netutil::count(nclients, "thread"));
        for (int i = 0; i < nclients; ++i)
            handlers.emplace_back(run_handler, std::to_string(i), listener.get(), std::cref(stop), std::cref(settings));

        // As the slide insists: wait for every handler before closing the server socket.
        for (auto& handler : handlers) handler.join();
        listener.reset();
        if (const int signo = netutil::caught_signal(); signo != 0)
            netutil::print_line("server stopped by " + netutil::signal_name(signo) + ", every handler joined");
        return 0;
    });
}
