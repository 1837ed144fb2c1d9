// 08_webclient/models.cpp: the answer to a request, and the blocking connection handler (see models.hpp).
#include "models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <new>
#include <poll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace web {

std::string concurrency_name(Concurrency concurrency) {
    for (const auto& [name, value] : kConcurrencyNames)
        if (value == concurrency) return name;
    return "?";
}

Stats& shared_stats() {
    static Stats* stats = [] {
        void* memory = ::mmap(nullptr, sizeof(Stats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) netutil::throw_errno("mmap for the shared counters");
        return new (memory) Stats();
    }();
    return *stats;
}

void log_line(const Settings& settings, const Worker& worker, const ConnectionInfo& connection,
              const std::string& what) {
    if (!settings.verbose) return;
    netutil::print_line("[conn " + std::to_string(connection.id) + " " + connection.peer + ", " + worker.name + "] " +
                        what);
}

Response respond(const http::ParseResult& parsed, const Settings& settings, const Worker& worker,
                 const ConnectionInfo& connection) {
    Response response;
    if (parsed.status == http::ParseStatus::Error) {
        // A malformed or refused request: the stream can no longer be trusted, so answer and close.
        response.status = parsed.error_status;
        response.head = http::error_response(parsed.error_status, false);
        response.close_after = true;
        log_line(settings, worker, connection, "bad request -> " + std::to_string(response.status));
        return response;
    }
    const http::Request& request = parsed.request;
    response.close_after = !request.keep_alive;
    http::Resolved resolved = http::resolve_target(request.target, settings.root.get());
    response.status = resolved.status;
    if (resolved.status != 200) {
        // 400 (a target we cannot read) and 503 close; 403 and 404 are ordinary answers on a kept-alive
        // connection.
        if (resolved.status == 400 || resolved.status == 503) response.close_after = true;
        response.head = http::error_response(resolved.status, !response.close_after, request.head());
    } else {
        const auto size = static_cast<size_t>(resolved.info.st_size);
        response.head = http::response_head(200, size, http::content_type(resolved.relative), !response.close_after,
                                            resolved.info.st_mtime);
        if (!request.head() && size > 0) {
            response.file = std::move(resolved.file);
            response.remaining = size;
        }
    }
    if (settings.verbose)  // (build the line only when it is printed: this runs for every request)
        log_line(settings, worker, connection,
                 request.method + " " + request.target + " -> " + std::to_string(response.status) +
                     (response.status == 200 ? " (" + netutil::count(resolved.info.st_size, "byte") + ")" : ""));
    return response;
}

Response timeout_response() {
    Response response;
    response.status = 408;
    response.head = http::error_response(408, false);
    response.close_after = true;
    return response;
}

Acceptor::Acceptor() : spare_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

netutil::UniqueFd Acceptor::accept(int listen_fd, netutil::SockAddr* peer) {
    // accept4() itself rather than netutil::accept_client: here every errno is an expected event with its own
    // answer, not an exception.
    for (;;) {
        netutil::SockAddr address;
        const int fd = ::accept4(listen_fd, address.get(), &address.length, SOCK_CLOEXEC);
        if (fd >= 0) {
            if (peer != nullptr) *peer = address;
            return netutil::UniqueFd(fd);
        }
        const int code = errno;
        switch (code) {
            case EINTR: continue;
            case EAGAIN:
            case ECONNABORTED: return {};  // nothing to accept, or the client gave up first
            case EMFILE:
            case ENFILE:
                if (spare_) {
                    // Give the spare descriptor up for a moment to take the client off the backlog and refuse it.
                    spare_.reset();
                    netutil::UniqueFd client(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
                    if (client) {
                        const std::string refusal = http::error_response(503, false);
                        [[maybe_unused]] auto ignored =
                            ::send(client.get(), refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                        netutil::print_error("server: out of descriptors, refused a client with 503");
                    }
                    client.reset();
                    spare_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
                    return {};
                }
                [[fallthrough]];
            case ENOBUFS:
            case ENOMEM:
            case EPROTO:
            case EPERM:
            case ENETDOWN:
            case EHOSTUNREACH:
                netutil::print_error(std::string("server: accept: ") + std::strerror(code) + " (carrying on)");
                std::this_thread::sleep_for(std::chrono::milliseconds(10));  // never spin on a lasting failure
                return {};
            default: netutil::throw_errno("accept");
        }
    }
}

namespace {

// The state of one blocking connection: its deadlines, and whether Ctrl-C was seen.
class BlockingConnection {
public:
    BlockingConnection(int fd, const Settings& settings, int stop_fd)
        : fd_(fd), settings_(settings), stop_fd_(stop_fd) {
        restart_idle_clock();
    }

    void restart_idle_clock() {
        idle_deadline_ = settings_.idle_timeout_s > 0 ? Clock::now() + std::chrono::seconds(settings_.idle_timeout_s)
                                                      : Clock::time_point::max();
    }
    bool stopping() const { return stopping_; }
    bool past_idle_deadline() const { return Clock::now() >= idle_deadline_; }

    enum class Event { Ready, Stop, Timeout };

    // Waits until the socket is ready for `events` (POLLIN/POLLOUT), Ctrl-C is first seen, or a deadline
    // passes: the idle deadline, and after Ctrl-C also the end of the grace period.
    Event wait(short events) {
        for (;;) {
            Clock::time_point deadline = idle_deadline_;
            if (stopping_) deadline = std::min(deadline, grace_deadline_);
            const auto now = Clock::now();
            if (now >= deadline) return Event::Timeout;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
            const int timeout =
                deadline == Clock::time_point::max() ? -1 : static_cast<int>(std::min<long>(left, 60000));
            pollfd fds[2] = {{fd_, events, 0}, {stop_fd_, POLLIN, 0}};
            const int n = ::poll(fds, stopping_ ? 1 : 2, timeout);
            if (n == -1 && errno == EINTR) continue;
            if (n == -1) netutil::throw_errno("poll");
            if (n == 0) continue;  // recompute: maybe a deadline passed
            if (!stopping_ && (fds[1].revents & POLLIN)) {
                stopping_ = true;
                grace_deadline_ = Clock::now() + std::chrono::seconds(settings_.grace_s);
                return Event::Stop;
            }
            if (fds[0].revents != 0) return Event::Ready;
        }
    }

    // Sends the whole response: the head, then the file with sendfile(), which copies from the page cache
    // to the socket in the kernel (no read into our memory, however large the file). False if the client
    // vanished or stopped reading past a deadline.
    bool send(Response& response) {
        size_t sent = 0;
        const int more = response.remaining > 0 ? MSG_MORE : 0;  // head and body in the same segments
        while (sent < response.head.size()) {
            const ssize_t n =
                ::send(fd_, response.head.data() + sent, response.head.size() - sent, MSG_NOSIGNAL | more);
            if (n >= 0) {
                sent += static_cast<size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN || !wait_writable()) return false;
        }
        while (response.remaining > 0) {
            const ssize_t n =
                ::sendfile(fd_, response.file.get(), &response.offset, std::min<size_t>(response.remaining, 1 << 20));
            if (n > 0) {
                response.remaining -= static_cast<size_t>(n);
                restart_idle_clock();  // a client that reads is not idle
                continue;
            }
            if (n == 0) return false;  // the file shrank under us: the promised length cannot be kept
            if (errno == EINTR) continue;
            if (errno != EAGAIN || !wait_writable()) return false;
        }
        return true;
    }

private:
    bool wait_writable() {
        for (;;) {
            switch (wait(POLLOUT)) {
                case Event::Ready: return true;
                case Event::Stop: continue;  // keep sending: the response already begun is finished
                case Event::Timeout: return false;
            }
        }
    }

    int fd_;
    const Settings& settings_;
    int stop_fd_;
    bool stopping_ = false;
    Clock::time_point idle_deadline_;
    Clock::time_point grace_deadline_ = Clock::time_point::max();
};

// Reads what is there without waiting: >0 bytes appended, 0 at EOF, -1 nothing yet (EAGAIN), -2 an error.
ssize_t read_available(int fd, std::string& buffer) {
    char chunk[16 * 1024];
    for (;;) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) buffer.append(chunk, static_cast<size_t>(n));
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        return errno == EAGAIN ? -1 : -2;
    }
}

// Why serve_connection() let a connection go, for the -v log.
enum class Ending {
    ClosedByClient,
    ClientStoppedReading,
    ClosedAfterResponse,
    ServerStopping,
    TimedOut,
    GraceOver,
    ConnectionError
};

const char* describe(Ending ending) {
    switch (ending) {
        case Ending::ClosedByClient: return "closed by the client";
        case Ending::ClientStoppedReading: return "dropped: the client stopped reading";
        case Ending::ClosedAfterResponse: return "closed after the response";
        case Ending::ServerStopping: return "closed: the server is stopping";
        case Ending::TimedOut: return "timed out (408)";
        case Ending::GraceOver: return "closed: the grace period is over";
        case Ending::ConnectionError: return "closed: connection error";
    }
    return "?";
}

}  // namespace

void serve_connection(netutil::UniqueFd client, const ConnectionInfo& connection, const Worker& worker,
                      const Settings& settings, int stop_fd) {
    Stats& stats = shared_stats();
    stats.worker_connections[worker.index]++;
    netutil::set_nonblocking(client.get());  // every wait is a poll with a deadline, never a blocked read
    const int one = 1;
    ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    log_line(settings, worker, connection, "connected");

    BlockingConnection conn(client.get(), settings, stop_fd);
    std::string buffer;
    Ending ending = Ending::ClosedByClient;
    bool unread_input = false;  // the client may still be sending bytes we will never read
    for (;;) {
        // Answer every complete request already here, in order (pipelining).
        bool closing = false;
        for (;;) {
            const http::ParseResult parsed = http::parse_request(buffer);
            if (parsed.status == http::ParseStatus::Incomplete) break;
            if (settings.delay_ms > 0 && parsed.status == http::ParseStatus::Complete) {
                log_line(settings, worker, connection,
                         parsed.request.method + " " + parsed.request.target + " received, answering in " +
                             std::to_string(settings.delay_ms) + " ms");
                std::this_thread::sleep_for(std::chrono::milliseconds(settings.delay_ms));
            }
            Response response = respond(parsed, settings, worker, connection);
            stats.requests++;
            stats.worker_requests[worker.index]++;
            if (!conn.send(response)) {
                ending = Ending::ClientStoppedReading;
                closing = true;
                break;
            }
            conn.restart_idle_clock();
            if (response.close_after) {
                unread_input = parsed.status == http::ParseStatus::Error || buffer.size() > parsed.consumed;
                ending = Ending::ClosedAfterResponse;
                closing = true;
                break;
            }
            buffer.erase(0, parsed.consumed);
        }
        if (closing) break;

        // After Ctrl-C: an idle connection is closed at once, once what it already sent is answered.
        if (conn.stopping() && buffer.empty()) {
            const ssize_t n = read_available(client.get(), buffer);
            if (n > 0) continue;
            ending = Ending::ServerStopping;
            break;
        }
        const auto event = conn.wait(POLLIN);
        if (event == BlockingConnection::Event::Stop) continue;
        if (event == BlockingConnection::Event::Timeout) {
            if (conn.past_idle_deadline()) {
                // The client did not complete a request in time (idle, or a slowloris trickling bytes).
                Response response = timeout_response();
                [[maybe_unused]] auto ignored =
                    ::send(client.get(), response.head.data(), response.head.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                ending = Ending::TimedOut;
                unread_input = !buffer.empty();
            } else {
                ending = Ending::GraceOver;
            }
            break;
        }
        const ssize_t n = read_available(client.get(), buffer);
        if (n == 0) break;
        if (n == -2) {
            ending = Ending::ConnectionError;
            break;
        }
    }
    // Closing with unread request bytes would make the kernel send a reset, which can destroy the response
    // still in flight: when the client may still be sending, shut our side, then read what it sends (at
    // most half a second) until it closes too.
    if (unread_input) {
        ::shutdown(client.get(), SHUT_WR);
        const auto linger_end = Clock::now() + std::chrono::milliseconds(500);
        for (;;) {
            std::string discard;
            const ssize_t n = read_available(client.get(), discard);
            if (n == 0 || n == -2) break;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(linger_end - Clock::now()).count();
            if (left <= 0) break;
            if (n == -1) {
                pollfd pfd{client.get(), POLLIN, 0};
                const int ready = ::poll(&pfd, 1, static_cast<int>(left));
                if (ready == -1 && errno != EINTR) netutil::throw_errno("poll");
                if (ready == 0) break;
            }
        }
    }
    log_line(settings, worker, connection, describe(ending));
}

}  // namespace web
