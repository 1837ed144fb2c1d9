// 03_udp_mp/iterative.cpp: the iterative UDP server of the slide "One server, one client": one process
// reads a datagram, replies, and only then reads the next one.
//
// Mirrors: the lecture "Client-server architecture model: with sockets and multiprocessing in Python", slide "Server
// in Python" (its printed lines, and `if data:`: an empty datagram gets no reply). Fine when each request takes no
// time; a slow request would hold up every client behind it.
#include "models.hpp"

#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/text.hpp"

#include <csignal>

namespace udp {

int run_iterative(int socket_fd, const Settings& settings) {
    SignalEvents signals{SIGINT, SIGTERM, SIGHUP};
    long served = 0;
    int stopped_by = 0;
    netutil::print_line("Waiting to receive message...");
    while (stopped_by == 0) {
        if (wait_event(socket_fd, signals) == Event::Signal) {
            for (int signo : signals.take()) stopped_by = signo;
            continue;
        }
        const std::optional<Datagram> datagram = receive(socket_fd);
        if (!datagram) continue;
        netutil::print_line("Received message from client: " + datagram->from.to_string());
        netutil::print_line("Message: " + printable(datagram->data));
        if (datagram->data.empty()) {
            netutil::print_line("An empty datagram: no reply");
        } else {
            const std::string reply = reply_for(settings, datagram->data, datagram->from);
            if (send_reply(socket_fd, reply, datagram->from)) {
                ++served;
                netutil::print_line("Replied to client: " + printable(reply));
            }
        }
        netutil::print_line("Waiting to receive message...");
    }
    netutil::print_line("server stopped by " + netutil::signal_name(stopped_by) + ": served " +
                        netutil::count(served, "datagram") + ", one at a time");
    return 0;
}

}  // namespace udp
