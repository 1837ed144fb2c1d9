// 07_epoll/epoll.cpp: --mode epoll (level-triggered) and --mode epoll-et (edge-triggered).
//
// The kernel keeps the interest list (epoll_ctl) between calls and hands back only the ready
// descriptors (epoll_wait): the cost of a call follows the number of events, not the number of
// connections. That is the flat epoll column of the lecture's table.
//
// Level-triggered (EPOLLIN): epoll_wait reports a socket as long as it is readable. We read once per
// report and come back; if we do not want input (output is stuck), we must say so with EPOLL_CTL_MOD,
// or epoll_wait would report the same socket again and again.
// Edge-triggered (EPOLLIN | EPOLLOUT | EPOLLET): reported when the socket BECOMES readable or writable.
// Registered once, never modified; but after each report we must read (and accept) until EAGAIN:
// bytes left in the socket would get no new report until more bytes arrive, which may be never.
#include "07_epoll/models.hpp"

#include "netutil/error.hpp"
#include "netutil/fd.hpp"

#include <cerrno>
#include <sys/epoll.h>

namespace echo {

namespace {

constexpr int kMaxEvents = 256;

void control(int epoll_fd, int op, int fd, uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    netutil::check(::epoll_ctl(epoll_fd, op, fd, &event), "epoll_ctl");
}

// Level-triggered (--mode epoll): a connection is registered for what it wants now, EPOLLIN or EPOLLOUT.
void run_level_triggered(EchoServer& server, int stop_fd, int epoll_fd) {
    const int listen_fd = server.listen_fd();  // the number stays ours until begin_stop() closes it
    epoll_event events[kMaxEvents];

    // BEGIN SOLUTION 07.1 "the level-triggered epoll loop"
    bool listener_watched = true;
    // Keep the registration in step with what the connection wants.
    auto sync = [&](int fd) {
        Connection* connection = server.find(fd);
        if (connection == nullptr) return;  // closed: closing removed it from the interest list
        const uint32_t wanted =
            (connection->wants_read() ? uint32_t(EPOLLIN) : 0u) | (connection->wants_write() ? uint32_t(EPOLLOUT) : 0u);
        if (wanted != connection->registered) {
            control(epoll_fd, EPOLL_CTL_MOD, fd, wanted);
            connection->registered = wanted;
        }
    };
    auto add = [&](const std::vector<int>& accepted) {
        for (const int fd : accepted) {
            control(epoll_fd, EPOLL_CTL_ADD, fd, EPOLLIN);
            server.find(fd)->registered = EPOLLIN;
        }
    };

    while (!server.done()) {
        if (server.resume_due()) add(server.accept_clients(0));
        // EMFILE: a level-triggered listener we cannot empty would be reported on every call.
        if (!server.stopping() && listener_watched != server.accepting()) {
            listener_watched = server.accepting();
            control(epoll_fd, EPOLL_CTL_MOD, listen_fd, listener_watched ? uint32_t(EPOLLIN) : 0u);
        }
        const int ready = ::epoll_wait(epoll_fd, events, kMaxEvents, server.wait_timeout_ms());
        if (ready == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("epoll_wait");
        }
        for (int i = 0; i < ready; ++i) {
            const int fd = events[i].data.fd;
            const uint32_t what = events[i].events;
            if (fd == stop_fd) {
                // The signalfd stays readable (we leave the signal pending): forget it, or level-triggered
                // epoll reports it forever.
                control(epoll_fd, EPOLL_CTL_DEL, stop_fd, 0);
                server.begin_stop();  // closes the listening socket, which leaves the interest list
                continue;
            }
            if (fd == listen_fd && !server.stopping()) {
                if (server.accepting()) add(server.accept_clients(64));
                continue;
            }
            Progress progress = Progress::Open;
            if (what & EPOLLOUT) progress = server.on_writable(fd, false);
            if (progress == Progress::Open && (what & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                progress = server.on_readable(fd, false);
            if (progress == Progress::Open) sync(fd);
        }
    }
    // END SOLUTION
    // BEGIN STUB
    // // TODO (07.1): the loop, until server.done(): register accepted clients (server.accept_clients) with
    // // EPOLL_CTL_ADD, wait with epoll_wait(epoll_fd, events, kMaxEvents, server.wait_timeout_ms()), and for each
    // // event: stop_fd readable -> EPOLL_CTL_DEL it, server.begin_stop(); listen_fd -> accept; a connection ->
    // // server.on_writable (EPOLLOUT) then server.on_readable (EPOLLIN, EPOLLHUP, EPOLLERR), and while it is
    // // open keep its registration in step (EPOLL_CTL_MOD) with wants_read()/wants_write(). Also
    // // server.resume_due() and stop watching the listener while !server.accepting() (EMFILE).
    // (void)stop_fd;
    // (void)epoll_fd;
    // (void)listen_fd;
    // (void)events;
    // netutil::not_implemented("07.1");
    // END STUB
}

// Edge-triggered (--mode epoll-et): every connection registered once for input, output room and hang-up,
// never modified; each report is drained to EAGAIN.
void run_edge_triggered(EchoServer& server, int stop_fd, int epoll_fd) {
    const int listen_fd = server.listen_fd();  // the number stays ours until begin_stop() closes it
    epoll_event events[kMaxEvents];

    // BEGIN SOLUTION 07.2 "the edge-triggered epoll loop"
    auto add = [&](const std::vector<int>& accepted) {
        // Once and for all. Data that came before this call is reported too: adding a ready descriptor puts
        // it on the ready list.
        for (const int fd : accepted) control(epoll_fd, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    };

    while (!server.done()) {
        if (server.resume_due()) add(server.accept_clients(0));
        const int ready = ::epoll_wait(epoll_fd, events, kMaxEvents, server.wait_timeout_ms());
        if (ready == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("epoll_wait");
        }
        for (int i = 0; i < ready; ++i) {
            const int fd = events[i].data.fd;
            if (fd == stop_fd) {
                control(epoll_fd, EPOLL_CTL_DEL, stop_fd, 0);
                server.begin_stop();  // closes the listening socket, which leaves the interest list
                continue;
            }
            if (fd == listen_fd && !server.stopping()) {
                // Accept until EAGAIN, or the clients still queued are never reported.
                if (server.accepting()) add(server.accept_clients(0));
                continue;
            }
            // Whatever the edge (input, output room, hang-up): flush, then read until EAGAIN.
            server.on_writable(fd, true);
        }
    }
    // END SOLUTION
    // BEGIN STUB
    // // TODO (07.2): the loop, until server.done(): register each accepted client once, with EPOLL_CTL_ADD and
    // // EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, and never modify it; epoll_wait; for each event: stop_fd ->
    // // EPOLL_CTL_DEL it, server.begin_stop(); listen_fd -> accept until EAGAIN (server.accept_clients(0));
    // // a connection -> server.on_writable(fd, true), which flushes and then reads until EAGAIN. Also
    // // server.resume_due().
    // (void)stop_fd;
    // (void)epoll_fd;
    // (void)listen_fd;
    // (void)events;
    // netutil::not_implemented("07.2");
    // END STUB
}

}  // namespace

void run_epoll(EchoServer& server, int stop_fd, bool edge_triggered) {
    const netutil::UniqueFd epoll_fd(netutil::check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
    control(epoll_fd.get(), EPOLL_CTL_ADD, stop_fd, EPOLLIN);
    control(epoll_fd.get(), EPOLL_CTL_ADD, server.listen_fd(), EPOLLIN | (edge_triggered ? uint32_t(EPOLLET) : 0u));
    if (edge_triggered)
        run_edge_triggered(server, stop_fd, epoll_fd.get());
    else
        run_level_triggered(server, stop_fd, epoll_fd.get());
}

}  // namespace echo
