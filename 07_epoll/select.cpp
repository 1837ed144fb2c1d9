// 07_epoll/select.cpp: --mode select. Level-triggered, and the kernel forgets the set between calls:
// every call hands it the whole bit array again and scans it up to the highest descriptor (the cost
// the lecture's table shows growing with N). A descriptor >= FD_SETSIZE cannot even be named in an
// fd_set, so EchoServer refuses such connections (fd_limit = FD_SETSIZE) before they get here.
#include "07_epoll/models.hpp"

#include "netutil/error.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/select.h>

namespace echo {

void run_select(EchoServer& server, int stop_fd) {
    // The sets we want watched (UNP's "allset"), kept up to date as connections come and go.
    fd_set want_read, want_write;
    FD_ZERO(&want_read);
    FD_ZERO(&want_write);
    int max_fd = -1;
    std::vector<int> fds;  // the connections, so a pass does not scan descriptors that are not ours

    auto update = [&](int fd) {  // copy a connection's wishes into the sets
        const Connection* connection = server.find(fd);
        if (connection != nullptr && connection->wants_read())
            FD_SET(fd, &want_read);
        else
            FD_CLR(fd, &want_read);
        if (connection != nullptr && connection->wants_write())
            FD_SET(fd, &want_write);
        else
            FD_CLR(fd, &want_write);
    };
    auto add = [&](const std::vector<int>& accepted) {
        for (const int fd : accepted) {
            fds.push_back(fd);
            update(fd);
            max_fd = std::max(max_fd, fd);
        }
    };

    while (!server.done()) {
        if (server.resume_due()) add(server.accept_clients(0));
        fd_set readable = want_read, writable = want_write;  // select() overwrites what it is given
        int top = max_fd;
        if (!server.stopping()) {
            FD_SET(stop_fd, &readable);
            top = std::max(top, stop_fd);
        }
        if (server.accepting()) {
            FD_SET(server.listen_fd(), &readable);
            top = std::max(top, server.listen_fd());
        }
        const int timeout_ms = server.wait_timeout_ms();
        timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        const int ready = ::select(top + 1, &readable, &writable, nullptr, timeout_ms < 0 ? nullptr : &timeout);
        if (ready == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("select");
        }
        if (ready == 0) continue;
        if (!server.stopping() && FD_ISSET(stop_fd, &readable)) {
            server.begin_stop();
            continue;
        }
        // Every connection is checked, ready or not: this scan is select()'s O(N) in user space too.
        const size_t existing = fds.size();
        for (size_t i = 0; i < existing; ++i) {
            const int fd = fds[i];
            Progress progress = Progress::Open;
            if (FD_ISSET(fd, &writable)) progress = server.on_writable(fd, false);
            if (progress == Progress::Open && FD_ISSET(fd, &readable)) progress = server.on_readable(fd, false);
            update(fd);  // a closed connection is cleared from both sets
        }
        std::erase_if(fds, [&](int fd) { return server.find(fd) == nullptr; });
        if (server.accepting() && FD_ISSET(server.listen_fd(), &readable)) add(server.accept_clients(64));
        if (!fds.empty())
            max_fd = *std::max_element(fds.begin(), fds.end());
        else
            max_fd = -1;
    }
}

}  // namespace echo
