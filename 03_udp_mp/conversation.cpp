// 03_udp_mp/conversation.cpp: the concurrent UDP server for extended conversations (UNP 22.7): on a
// client's first datagram the parent forks a child; the child opens a NEW socket on an ephemeral port
// and carries on the whole exchange from there, while the parent goes back to the well-known port.
//
// Mirrors: seeds/04_lecture_network_programming_server_design.txt, "Concurrency UDP Servers": "Create a
// new socket for each client, bind an ephemeral port to that socket, and use that socket for all its
// replies. The client looks at the port number of the server's first reply and sends subsequent
// datagrams to that port."
// Watch for: the first reply comes from another port than the one the client wrote to. The
// conversation ends when the client says `bye`, or after --idle-timeout seconds without a word (UDP has
// no close: a client that vanished would otherwise keep its child forever).
#include "udp_server.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace udp {

namespace {

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", seconds);
    return text;
}

// The body of a conversation child: everything after the first datagram happens on its own socket.
int converse(int well_known_fd, const Settings& settings, const Datagram& first, std::atomic<long>& served) {
    ::close(well_known_fd);  // the child's copy: the parent alone reads the well-known port
    SignalEvents signals{SIGINT, SIGTERM, SIGHUP};
    const netutil::UniqueFd own = netutil::udp_bind(settings.bind_address, 0);
    netutil::set_nonblocking(own.get());
    const std::string client = first.from.to_string();
    const std::string name = std::to_string(::getpid()) + ": ";
    netutil::print_line(name + "talks with " + client + " from port " +
                        std::to_string(netutil::local_address(own.get()).port()));

    long datagrams = 0;
    const auto answer = [&](const std::string& message) {
        const std::string reply = reply_for(settings, message, first.from);
        if (!send_reply(own.get(), reply, first.from)) return;
        ++datagrams;
        served.fetch_add(1);
        netutil::print_line(name + "Sent to client: " + printable(reply));
    };
    answer(first.data);
    const int idle_ms = static_cast<int>(settings.idle_seconds * 1000);
    for (;;) {
        const Event event = wait_event(own.get(), signals, idle_ms);
        if (event == Event::Signal) {
            netutil::print_line(name + "stopped: the conversation with " + client + " ends after " +
                                std::to_string(datagrams) + " datagrams");
            return 0;
        }
        if (event == Event::TimedOut) {
            netutil::print_line(name + "no word from " + client + " for " + seconds_text(settings.idle_seconds) +
                                " s: the conversation ends after " + std::to_string(datagrams) + " datagrams");
            return 0;
        }
        const std::optional<Datagram> datagram = receive(own.get());
        if (!datagram) continue;
        if (datagram->from.to_string() != client) {  // the port is open to anyone: only our client counts
            netutil::print_line(name + "ignored a datagram from " + datagram->from.to_string() + " (not its client)");
            continue;
        }
        netutil::print_line(name + "Received message '" + printable(datagram->data) + "'");
        if (datagram->data == kGoodbye) {
            send_reply(own.get(), kGoodbye, first.from);
            netutil::print_line(name + client + " said bye: the conversation ends after " +
                                std::to_string(datagrams) + " datagrams");
            return 0;
        }
        if (datagram->data.empty()) {
            netutil::print_line(name + "An empty datagram: no reply");
            continue;
        }
        answer(datagram->data);
    }
}

}  // namespace

int run_conversation(int socket_fd, const Settings& settings) {
    SignalEvents signals{SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    SharedCounters served(1);
    Children children(settings.max_children, std::to_string(settings.max_children) +
                                                 " conversations going on (--max-children): waiting for one to end, "
                                                 "new clients wait in the socket's buffer");
    long conversations = 0;
    int stopped_by = 0;
    while (stopped_by == 0) {
        const bool full = children.full();
        if (wait_event(full ? -1 : socket_fd, signals) == Event::Signal) {
            stopped_by = children.take_signals(signals);
            continue;
        }
        const std::optional<Datagram> datagram = receive(socket_fd);
        if (!datagram) continue;
        netutil::print_line("Received message '" + printable(datagram->data) + "' at " + datagram->from.to_string() +
                            ": a new conversation");
        if (datagram->data.empty()) {
            netutil::print_line("An empty datagram: no reply, no conversation");
            continue;
        }
        const pid_t pid = fork_child([&] {
            signals.close();
            return converse(socket_fd, settings, *datagram, served[0]);
        });
        if (pid == -1) {
            netutil::print_line(std::string("fork failed: ") + std::strerror(errno) + ": no reply (the client will retry)");
            continue;
        }
        children.add(pid);
        ++conversations;
    }
    netutil::print_line("stopping: ending " + std::to_string(children.running()) + " conversations");
    reap_all(children.pids(), signals, settings.grace_seconds, true);
    netutil::print_line("server stopped by " + netutil::signal_name(stopped_by) + ": " + std::to_string(conversations) +
                        " conversations, " + std::to_string(served[0].load()) +
                        " datagrams answered in them, every child reaped" + children.limit_note());
    return 0;
}

}  // namespace udp
