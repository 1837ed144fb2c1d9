// 04_prefork/iterative.cpp: the iterative server, the lecture's base case (UNP's serv00 / "Iterative Servers").
//
// One process accepts a client, serves it to the end, then accepts the next: no fork, no lock, no
// process control at all, so its CPU time is the baseline the table subtracts from every other model.
// Watch for: a second client waits (in the listen backlog) until the first one closes.
#include "04_prefork/models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/socket.hpp"

#include <cerrno>
#include <poll.h>

namespace prefork {

void run_iterative(Server& server) {
    netutil::set_nonblocking(server.listener.get());  // only this process uses it: accept, or poll when empty
    long served = 0;
    int stop_signal = 0;
    int unpolled = 0;  // clients accepted in a row without a look at the signals
    while (stop_signal == 0) {
        // A client already waiting in the backlog is taken at once; poll() (the signals and the listening
        // socket) only when there is none, or every 16 clients, so that a Ctrl-C is seen under any load.
        netutil::SockAddr peer;
        netutil::UniqueFd client;
        if (unpolled < 16) client = byte_count::accept_or_wait(server.listener.get(), "server", &peer);
        if (!client) {
            unpolled = 0;
            pollfd fds[2] = {{server.signals.fd(), POLLIN, 0}, {server.listener.get(), POLLIN, 0}};
            if (::poll(fds, 2, -1) == -1) {
                if (errno == EINTR) continue;
                netutil::throw_errno("poll");
            }
            if (fds[0].revents != 0) stop_signal = server.signals.read().stop_signal;
            continue;
        }
        ++unpolled;
        ++served;
        // While it serves, the signalfd doubles as the stop signal: a Ctrl-C ends this client's turn.
        if (serve(client.get(), server, server.signals.fd(), "server", &peer)) unpolled = 16;  // look now
    }
    byte_count::print_summary(stop_signal, {{"server", served}}, "", served, kCpuNote);
}

}  // namespace prefork
