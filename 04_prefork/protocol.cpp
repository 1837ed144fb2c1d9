// 04_prefork/protocol.cpp: serving one connection of the byte-count protocol (see protocol.hpp).
#include "04_prefork/protocol.hpp"

#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace byte_count {

namespace {

using Clock = std::chrono::steady_clock;

// The bytes of every reply: one buffer written as many times as needed (UNP's web_child does the same).
// Filled at compile time, so forked children share it untouched instead of each filling its own copy.
constexpr std::array<char, 65536> kReplyBytes = [] {
    std::array<char, 65536> filled{};
    for (size_t i = 0; i < filled.size(); ++i) filled[i] = static_cast<char>('a' + i % 26);
    return filled;
}();

std::string printable(std::string_view text) {
    std::string shown;
    for (const char c : text) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
    return shown;
}

int ms_until(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

// After an `error:` line: stop sending, then swallow what the client is still sending for a moment, so
// that closing does not turn into a reset that could destroy the error line before the client reads it.
// Bounded: at most 1 s and 1 MiB, and it ends as soon as the client is quiet for 100 ms.
void close_after_error(int fd) {
    ::shutdown(fd, SHUT_WR);
    const auto deadline = Clock::now() + std::chrono::seconds(1);
    char discard[4096];
    for (size_t swallowed = 0; swallowed < static_cast<size_t>(kMaxBytes);) {
        pollfd pfd{fd, POLLIN, 0};
        const int wait_ms = std::min(100, ms_until(deadline));
        const int ready = ::poll(&pfd, 1, wait_ms);
        if (ready == -1 && errno == EINTR) continue;
        if (ready <= 0) return;
        const ssize_t n = ::recv(fd, discard, sizeof discard, 0);
        if (n == -1 && errno == EINTR) continue;
        if (n <= 0) return;
        swallowed += static_cast<size_t>(n);
    }
}

Served refuse(Served served, int fd, const std::string& why) {
    const std::string line = "error: " + why + "\n";
    ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);  // the client may be gone already
    close_after_error(fd);
    served.ending = Ending::BadRequest;
    served.detail = "error: " + why;
    return served;
}

}  // namespace

std::optional<long> parse_request(std::string_view line, std::string& why) {
    const std::string range = "a byte count from 1 to " + std::to_string(kMaxBytes);
    if (line.empty()) {
        why = "empty request, expected " + range;
        return std::nullopt;
    }
    for (const char c : line) {
        if (c < '0' || c > '9') {
            why = "\"" + printable(line) + "\" is not " + range;
            return std::nullopt;
        }
    }
    // More than 7 digits (after leading zeros) is out of range whatever they say: no overflow possible.
    const size_t first = std::min(line.find_first_not_of('0'), line.size());
    long count = 0;
    if (line.size() - first <= 7)
        for (const char c : line.substr(first)) count = count * 10 + (c - '0');
    else
        count = kMaxBytes + 1;
    if (count < 1 || count > kMaxBytes) {
        why = "byte count " + printable(line) + " is out of range, expected " + range;
        return std::nullopt;
    }
    return count;
}

namespace {

// Writes all of a reply. The first send() does not block: a reply the socket buffer takes at once (the
// usual case) costs no time-out to set up. Only a full buffer (a client that does not read) sets a send
// time-out of `timeout_ms` (-1: none) on the socket and goes on with blocking writes, which then give up
// once no byte could be written for that long. Throws like netutil::write_all ("write timed out", EPIPE...).
void send_reply(int fd, long count, int timeout_ms) {
    const auto& bytes = kReplyBytes;
    int flags = MSG_NOSIGNAL | MSG_DONTWAIT;
    for (long left = count; left > 0;) {
        const size_t want = static_cast<size_t>(std::min<long>(left, static_cast<long>(bytes.size())));
        const ssize_t n = ::send(fd, bytes.data(), want, flags);
        if (n >= 0) {
            left -= n;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) netutil::throw_errno("write");
        if ((flags & MSG_DONTWAIT) == 0) netutil::throw_error(ETIMEDOUT, "write timed out");
        if (timeout_ms > 0) netutil::set_send_timeout(fd, std::chrono::milliseconds(timeout_ms));
        flags = MSG_NOSIGNAL;  // from now on, wait in send() itself
    }
}

}  // namespace

Served serve_connection(int fd, const ServeOptions& options) {
    Served served;
    const bool has_timeout = options.idle_timeout_ms > 0;
    auto deadline = Clock::now() + std::chrono::milliseconds(has_timeout ? options.idle_timeout_ms : 0);
    bool stopping = false;  // once the server stops: serve only what has already arrived, then close
    int unpolled = 0;       // requests read in a row without a look at the stop descriptor
    std::string buffer;
    char chunk[4096];
    for (;;) {
        // A complete request in the buffer: answer it.
        if (const auto newline = buffer.find('\n'); newline != std::string::npos && newline <= kMaxLine) {
            std::string_view line(buffer.data(), newline);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            std::string why;
            const std::optional<long> count = parse_request(line, why);
            if (!count) return refuse(std::move(served), fd, why);
            buffer.erase(0, newline + 1);
            try {
                // A client that stops reading cannot hold this worker forever: the write gives up after the
                // idle timeout.
                send_reply(fd, *count, has_timeout ? options.idle_timeout_ms : -1);
            } catch (const std::system_error& error) {
                served.ending = Ending::Vanished;
                served.detail = std::string("vanished in the middle of a reply (") + error.what() + ")";
                return served;
            }
            ++served.requests;
            served.bytes += *count;
            deadline = Clock::now() + std::chrono::milliseconds(has_timeout ? options.idle_timeout_ms : 0);
            continue;
        }
        if (buffer.size() > kMaxLine)
            return refuse(std::move(served), fd, "request line longer than " + std::to_string(kMaxLine) + " bytes");

        // Read what has arrived without waiting: the request usually has, and then no poll() is needed (one
        // system call less per read; UNP's web_child just reads). A client that keeps sending is still
        // checked against the stop descriptor every 16 reads.
        ssize_t n = -1;
        if (stopping || unpolled < 16) {
            n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n == -1 && errno == EINTR) continue;
        } else {
            errno = EAGAIN;
        }
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (stopping) {
                served.ending = Ending::Stopped;
                return served;
            }
            // Nothing yet: wait for more of the request, for the server to stop, or for the idle timeout.
            unpolled = 0;
            pollfd fds[2] = {{fd, POLLIN, 0}, {options.stop_fd, POLLIN, 0}};
            const nfds_t count = options.stop_fd >= 0 ? 2 : 1;
            const int ready = ::poll(fds, count, has_timeout ? ms_until(deadline) : -1);
            if (ready == -1 && errno == EINTR) continue;
            if (ready == -1) {
                served.ending = Ending::Vanished;
                served.detail = std::string("poll failed (") + std::strerror(errno) + ")";
                return served;
            }
            if (ready == 0) {
                served.ending = Ending::IdleTimeout;
                served.detail = "idle for " + std::to_string(options.idle_timeout_ms / 1000) + " s, closed";
                return served;
            }
            if (count == 2 && fds[1].revents != 0) stopping = true;  // one more look for a request already sent
            continue;
        }
        if (n == -1) {
            served.ending = Ending::Vanished;
            served.detail = std::string("vanished (receive failed: ") + std::strerror(errno) + ")";
            return served;
        }
        if (n == 0) {
            if (buffer.empty()) return served;  // Ending::ClientClosed
            return refuse(std::move(served), fd, "connection closed in the middle of a request");
        }
        ++unpolled;
        buffer.append(chunk, static_cast<size_t>(n));
    }
}

bool serve_and_log(int fd, const ServeOptions& options, const std::string& who, const netutil::SockAddr* peer) {
    // The client's address is taken first: once it has gone, getpeername() no longer knows it. The models
    // that accept the connection themselves have it from accept() already: one system call less.
    netutil::SockAddr asked;
    const bool known = peer != nullptr || ::getpeername(fd, asked.get(), &asked.length) == 0;
    const Served served = serve_connection(fd, options);
    if (!served.detail.empty())
        netutil::print_line(who + ": " + (known ? (peer != nullptr ? *peer : asked).to_string() : "a client") + ": " +
                            served.detail);
    return served.ending == Ending::Stopped;
}

netutil::UniqueFd accept_or_wait(int listen_fd, const std::string& who, netutil::SockAddr* peer) {
    // One shortage is a run of failures less than a second apart, whichever threads meet them: a single
    // accept that succeeds as one descriptor frees up does not end it (the next one fails again at once).
    // The time of the last failure is exchanged atomically, so exactly one thread sees the run begin.
    using Clock = std::chrono::steady_clock;
    static std::atomic<Clock::rep> last_failure{0};
    try {
        return netutil::accept_client(listen_fd, peer);
    } catch (const std::system_error& error) {
        const int code = error.code().value();
        if (code != EMFILE && code != ENFILE && code != ENOBUFS && code != ENOMEM) throw;
        const Clock::rep now = Clock::now().time_since_epoch().count();
        const Clock::rep before = last_failure.exchange(now);
        if (before == 0 || Clock::duration(now - before) > std::chrono::seconds(1))
            netutil::print_line(who + ": out of descriptors (" + error.what() + "): waiting");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return {};
    }
}

void print_summary(int stop_signal, const std::vector<WorkerCount>& workers, const std::string& workers_line,
                   long total, const std::string& cpu_note) {
    netutil::print_line("server stopped by " + netutil::signal_name(stop_signal));
    for (const auto& worker : workers)
        netutil::print_line(worker.name + ": " + netutil::count(worker.connections, "connection"));
    if (!workers_line.empty()) netutil::print_line(workers_line);
    netutil::print_line("connections: " + std::to_string(total) + " in all");
    netutil::print_line("CPU time: " + netutil::format_cpu_time(netutil::cpu_time_total()) + " (" + cpu_note + ")");
}

void print_pool_summary(int stop_signal, const std::string& kind, const std::vector<long>& connections,
                        const std::string& workers_line, const std::string& cpu_note) {
    std::vector<WorkerCount> workers;
    long total = 0;
    for (size_t i = 0; i < connections.size(); ++i) {
        workers.push_back({kind + " " + std::to_string(i), connections[i]});
        total += connections[i];
    }
    print_summary(stop_signal, workers, workers_line, total, cpu_note);
}

}  // namespace byte_count
