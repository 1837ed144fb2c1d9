// 04_prefork/fork_per_client.cpp: the traditional concurrent server, one child forked per client
// (UNP's serv01; the lecture's "Traditional concurrent server model").
//
// Watch for: every connection costs a fork() and an exit(), and the parent must reap each child (here on
// SIGCHLD, read from a signalfd). That process control is what the lecture's table charges this model
// with: by far the highest CPU time of all.
// Limit: at most --max-clients children serve at once; above it the parent stops accepting (clients wait
// in the listen backlog) and says so once. A fork() that fails (the system's process limit) costs only
// its client, closed unanswered.
#include "04_prefork/models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <cerrno>
#include <chrono>
#include <poll.h>
#include <set>
#include <system_error>
#include <thread>

namespace prefork {

void run_fork_per_client(Server& server) {
    netutil::set_nonblocking(server.listener.get());
    std::set<pid_t> serving;
    long forked = 0;
    bool said_full = false;
    bool said_no_fork = false;
    int stop_signal = 0;
    while (stop_signal == 0) {
        const bool full = static_cast<int>(serving.size()) >= server.settings.max_clients;
        if (full && !said_full) {
            netutil::print_line("max-clients " + std::to_string(server.settings.max_clients) +
                                " reached: new clients wait in the backlog until a child ends");
            said_full = true;
        }
        pollfd fds[2] = {{server.signals.fd(), POLLIN, 0}, {server.listener.get(), POLLIN, 0}};
        if (::poll(fds, full ? 1 : 2, -1) == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("poll");
        }
        if (fds[0].revents != 0) {
            const auto pending = server.signals.read();
            stop_signal = pending.stop_signal;
            if (pending.child_ended)
                for (const auto& done : netutil::reap_children()) serving.erase(done.pid);
        }
        if (stop_signal != 0 || full || fds[1].revents == 0) continue;
        netutil::SockAddr peer;
        netutil::UniqueFd client = byte_count::accept_or_wait(server.listener.get(), "server", &peer);
        if (!client) continue;
        pid_t pid = -1;
        try {
            pid = fork_child([&] {
                server.listener.reset();  // the child serves this one client only
                server.close_parent_only();
                serve(client.get(), server, server.stop.fd(), "child " + std::to_string(::getpid()), &peer);
            });
        } catch (const std::system_error& error) {
            // No process for this client (EAGAIN: the user's process limit; ENOMEM): it is closed
            // unanswered (never answered wrongly), the server carries on, and waits a moment so that
            // the clients behind it queue in the backlog instead of being refused one after another.
            if (!said_no_fork)
                netutil::print_line(std::string("server: ") + error.what() +
                                    ": client closed, waiting for children to end");
            said_no_fork = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        said_no_fork = false;
        serving.insert(pid);
        ++forked;
        // `client` closes here in the parent: the child holds its own copy of the descriptor.
    }
    stop_children(server, {serving.begin(), serving.end()});
    byte_count::print_summary(stop_signal, {}, "children forked: " + std::to_string(forked) + ", one connection each",
                              forked, kCpuNote);
}

}  // namespace prefork
