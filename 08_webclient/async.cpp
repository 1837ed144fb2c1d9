// 08_webclient/async.cpp: `-c async`, a single-threaded event loop (epoll, non-blocking sockets, a small
// state machine per connection), the C++ counterpart of the handout's asyncio server. `--workers N` runs N
// such loops, each in its own thread with its own SO_REUSEPORT listener on the same port, as nginx runs its
// worker processes: the kernel spreads new connections over the listeners, and the loops share nothing.
//
// Watch for: nothing here ever blocks. A read that would block returns EAGAIN and the loop waits for
// EPOLLIN; a response that does not fit in the socket buffer stays in the connection's state and the loop
// waits for EPOLLOUT; the -d delay is a timer, not a sleep. So an idle or slow client costs memory only,
// never the loop's time.
#include "event_loop.hpp"
#include "models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"

#include <algorithm>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace web {

// BEGIN SOLUTION 08.2 "the event loop"
namespace {

// One connection's state (HttpConnection, event_loop.hpp: the socket, the input, the response, the -d timer, the
// idle deadline), and what the Reactor adds: how much of the response's head is out, what epoll watches for.
struct Connection : HttpConnection {
    size_t head_sent = 0;
    uint32_t events = 0;  // what epoll watches for it now
};

class EventLoop {
public:
    EventLoop(int index, netutil::UniqueFd listener, const Settings& settings, int stop_fd)
        : worker_{index, "loop " + std::to_string(index)},
          listener_(std::move(listener)),
          settings_(settings),
          stop_fd_(stop_fd),
          epoll_(netutil::check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")) {
        netutil::set_nonblocking(listener_.get());
        watch(listener_.get(), EPOLLIN, EPOLL_CTL_ADD);
        watch(stop_fd_, EPOLLIN, EPOLL_CTL_ADD);
    }

    void run() {
        std::vector<epoll_event> events(256);
        for (;;) {
            const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout_ms());
            if (n == -1 && errno != EINTR) netutil::throw_errno("epoll_wait");
            for (int i = 0; i < n; ++i) {
                const int fd = events[i].data.fd;
                if (fd == listener_.get())
                    accept_all();
                else if (fd == stop_fd_)
                    begin_stop();
                else if (const auto it = connections_.find(fd); it != connections_.end())
                    on_event(*it->second, events[i].events);
            }
            const auto now = Clock::now();
            timers_.run_due(now, connections_, [this](Connection& c) { advance(c); });
            if (timers_.scan_due(now)) close_idle(now);
            if (stopping_ && (connections_.empty() || now >= grace_deadline_)) break;
        }
        // The grace period is over: whatever is left is closed (its client sees the connection end).
        connections_.clear();
    }

private:
    void watch(int fd, uint32_t events, int op) {
        epoll_event event{};
        event.events = events;
        event.data.fd = fd;
        netutil::check(::epoll_ctl(epoll_.get(), op, fd, &event), "epoll_ctl");
    }

    void want(Connection& c, uint32_t events) {
        if (c.events == events) return;
        c.events = events;
        watch(c.fd.get(), events, EPOLL_CTL_MOD);
    }

    // How long epoll_wait may wait: until the next timer or idle scan.
    int timeout_ms() const {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.wake() - Clock::now()).count();
        return static_cast<int>(std::clamp<long>(left + 1, 0, kScanInterval.count()));
    }

    void accept_all() {
        for (;;) {
            netutil::SockAddr peer;
            netutil::UniqueFd client = acceptor_.accept(listener_.get(), &peer);
            if (!client) return;
            netutil::set_nonblocking(client.get());
            const int one = 1;
            ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto c = std::make_unique<Connection>();
            c->info = ConnectionInfo{++shared_stats().connections, peer.to_string()};
            c->deadline = idle_deadline(settings_);
            c->events = EPOLLIN;
            watch(client.get(), EPOLLIN, EPOLL_CTL_ADD);
            c->fd = std::move(client);
            shared_stats().worker_connections[worker_.index]++;
            log_line(settings_, worker_, c->info, "connected");
            const int fd = c->fd.get();
            connections_[fd] = std::move(c);
        }
    }

    // Ctrl-C: stop accepting (close the listener), then let each connection finish what it has begun.
    void begin_stop() {
        if (stopping_) return;
        stopping_ = true;
        grace_deadline_ = Clock::now() + std::chrono::seconds(settings_.grace_s);
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, stop_fd_, nullptr);
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
        listener_.reset();
        std::vector<int> fds;
        for (const auto& [fd, c] : connections_) fds.push_back(fd);
        for (const int fd : fds) {
            const auto it = connections_.find(fd);
            if (it == connections_.end()) continue;
            Connection& c = *it->second;
            if (!c.out && !c.delayed && !c.lingering) {
                // A request may be waiting in the socket: it was received, so it is answered.
                if (read_in(c))
                    advance(c);
                else
                    close(c, "closed: connection error");
            }
        }
    }

    void on_event(Connection& c, uint32_t events) {
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            if (!read_in(c)) {
                close(c, "closed: connection error");
                return;
            }
        }
        advance(c);
    }

    // Reads what the socket has (bounded per call, so one busy client cannot monopolize the loop).
    // False on a connection error.
    bool read_in(Connection& c) {
        char chunk[16 * 1024];
        for (int round = 0; round < 4 && !c.eof; ++round) {
            const ssize_t n = ::recv(c.fd.get(), chunk, sizeof chunk, 0);
            if (n > 0) {
                if (!c.lingering) c.in.append(chunk, static_cast<size_t>(n));
                if (static_cast<size_t>(n) < sizeof chunk) break;
                continue;
            }
            if (n == 0) {
                c.eof = true;
                break;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            return false;
        }
        return true;
    }

    // Moves the connection as far as it can go without blocking. False if it was closed.
    bool advance(Connection& c) {
        for (;;) {
            if (c.lingering) {
                if (c.eof) return close(c, nullptr);
                want(c, EPOLLIN);
                return true;
            }
            if (c.out) {
                const int sent = flush(c);
                if (sent < 0) return close(c, "dropped: connection error");
                if (sent == 0) {
                    want(c, EPOLLOUT);
                    return true;
                }
                const AfterResponse next = response_sent(c, settings_, worker_);
                if (next == AfterResponse::Linger) return linger(c);
                if (next == AfterResponse::Close) return close(c, "closed after the response");
                continue;
            }
            if (c.delayed) {
                if (Clock::now() < c.delay_until) {
                    want(c, 0);
                    return true;
                }
                c.out = respond(*c.delayed, settings_, worker_, c.info);
                c.head_sent = 0;
                c.delayed.reset();
                continue;
            }
            const http::ParseResult parsed = http::parse_request(c.in);
            if (parsed.status == http::ParseStatus::Incomplete) {
                if (c.eof) return close(c, "closed by the client");
                if (stopping_ && c.in.empty()) return close(c, "closed: the server is stopping");
                want(c, c.in.size() < kMaxBuffered ? uint32_t{EPOLLIN} : 0u);
                return true;
            }
            c.in.erase(0, parsed.consumed);
            if (delay_request(c, parsed, settings_, worker_)) {
                timers_.add(c.delay_until, c.fd.get());
                continue;
            }
            c.out = respond(parsed, settings_, worker_, c.info);
            c.head_sent = 0;
        }
    }

    // Sends what the socket takes: 1 when the response is all out, 0 when the socket is full, -1 on error.
    int flush(Connection& c) {
        Response& r = *c.out;
        while (c.head_sent < r.head.size()) {
            const int more = r.remaining > 0 ? MSG_MORE : 0;
            const ssize_t n =
                ::send(c.fd.get(), r.head.data() + c.head_sent, r.head.size() - c.head_sent, MSG_NOSIGNAL | more);
            if (n >= 0) {
                c.head_sent += static_cast<size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        while (r.remaining > 0) {
            const ssize_t n = ::sendfile(c.fd.get(), r.file.get(), &r.offset, std::min<size_t>(r.remaining, 1 << 20));
            if (n > 0) {
                r.remaining -= static_cast<size_t>(n);
                c.deadline = idle_deadline(settings_);  // a client that reads is not idle
                continue;
            }
            if (n == 0) return -1;  // the file shrank: the promised length cannot be kept
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        return 1;
    }

    // A closing response is out, and the client may still be sending: shut our side, read on (event_loop.hpp).
    bool linger(Connection& c) {
        begin_linger(c, settings_, worker_);
        return advance(c);
    }

    bool close(Connection& c, const char* why) {
        if (why != nullptr) log_line(settings_, worker_, c.info, why);
        const int fd = c.fd.get();
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        connections_.erase(fd);  // closes the descriptor
        return false;
    }

    // Past the idle timeout: a 408 for a client that has not sent a whole request, and the close (event_loop.hpp).
    void close_idle(Clock::time_point now) {
        for (const int fd : past_deadline(connections_, now)) {
            Connection& c = *connections_.at(fd);
            close(c, time_out(c));
        }
    }

    Worker worker_;
    netutil::UniqueFd listener_;
    const Settings& settings_;
    int stop_fd_;
    netutil::UniqueFd epoll_;
    Acceptor acceptor_;
    std::unordered_map<int, std::unique_ptr<Connection>> connections_;
    LoopTimers<int> timers_;  // -d's, by descriptor
    bool stopping_ = false;
    Clock::time_point grace_deadline_{};
};

}  // namespace
// END SOLUTION
// BEGIN STUB
// // (room for the event loop and the state of each connection)
// END STUB

void run_async(netutil::UniqueFd listener, uint16_t port, const Settings& settings, const netutil::StopPipe& stop) {
    // BEGIN SOLUTION 08.2 "an event loop"
    // Every loop gets its own listener on the same port, and its own thread (event_loop.hpp).
    run_loops<EventLoop>(std::move(listener), port, settings, stop);
    // END SOLUTION
    // BEGIN STUB
    // // TODO (extra credit, -c async): one thread serving every connection with non-blocking sockets and an
    // // event loop (epoll): an idle or slow client must never hold up the others, and -d delays a response
    // // without blocking the loop (a timer, not a sleep). Ctrl-C: finish the requests already accepted.
    // (void)listener;
    // (void)port;
    // (void)settings;
    // (void)stop;
    // netutil::not_implemented("08.2");
    // END STUB
}

}  // namespace web
