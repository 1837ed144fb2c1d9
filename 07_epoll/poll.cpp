// 07_epoll/poll.cpp: --mode poll. Level-triggered, like select, but a list of descriptors instead of a
// bit array, so no FD_SETSIZE limit. The kernel still forgets the list between calls: each call copies
// all N entries in and checks every one of them, and we scan all N `revents` afterwards.
#include "07_epoll/models.hpp"

#include "netutil/error.hpp"

#include <cerrno>
#include <poll.h>

namespace echo {

void run_poll(EchoServer& server, int stop_fd) {
    // entries[0]: the signalfd of Ctrl-C and SIGTERM, entries[1]: the listening socket, then one entry per connection.
    std::vector<pollfd> entries{{stop_fd, POLLIN, 0}, {server.listen_fd(), POLLIN, 0}};

    auto events_of = [&](int fd) -> short {
        const Connection* connection = server.find(fd);
        short events = 0;
        if (connection->wants_read()) events |= POLLIN;
        if (connection->wants_write()) events |= POLLOUT;
        return events;
    };
    auto add = [&](const std::vector<int>& accepted) {
        for (const int fd : accepted) entries.push_back({fd, events_of(fd), 0});
    };

    while (!server.done()) {
        if (server.resume_due()) add(server.accept_clients(0));
        entries[0].fd = server.stopping() ? -1 : stop_fd;  // a negative fd is skipped by poll()
        entries[1].fd = server.accepting() ? server.listen_fd() : -1;
        const int ready = ::poll(entries.data(), entries.size(), server.wait_timeout_ms());
        if (ready == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("poll");
        }
        if (ready == 0) continue;
        if (entries[0].fd >= 0 && entries[0].revents != 0) {
            server.begin_stop();
            continue;
        }
        const bool listener_ready = entries[1].fd >= 0 && entries[1].revents != 0;
        // Scan every entry for revents: O(N) however few are ready. Closed ones are removed by moving
        // the last entry into their place.
        for (size_t i = 2; i < entries.size();) {
            const short revents = entries[i].revents;
            entries[i].revents = 0;
            Progress progress = Progress::Open;
            if (revents != 0) {
                const int fd = entries[i].fd;
                if (revents & POLLOUT) progress = server.on_writable(fd, false);
                if (progress == Progress::Open && (revents & (POLLIN | POLLHUP | POLLERR)))
                    progress = server.on_readable(fd, false);
                if (progress == Progress::Open) entries[i].events = events_of(fd);
            }
            if (progress == Progress::Closed) {
                entries[i] = entries.back();
                entries.pop_back();
                continue;  // look at the moved entry next (its revents were already set by this call)
            }
            ++i;
        }
        if (listener_ready) add(server.accept_clients(64));
    }
}

}  // namespace echo
