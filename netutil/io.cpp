#include "netutil/io.hpp"

#include "netutil/error.hpp"
#include "netutil/socket.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace netutil {

size_t read_some(int fd, void* buffer, size_t size) {
    for (;;) {
        const ssize_t n = ::read(fd, buffer, size);
        if (n >= 0) return static_cast<size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) throw_error(ETIMEDOUT, "read timed out");
        throw_errno("read");
    }
}

void write_all(int fd, const void* data, size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    bool is_socket = true;
    while (size > 0) {
        ssize_t n = is_socket ? ::send(fd, bytes, size, MSG_NOSIGNAL) : ::write(fd, bytes, size);
        if (n == -1 && errno == ENOTSOCK) {
            is_socket = false;  // a pipe or a file: plain write()
            continue;
        }
        if (n == -1 && errno == EINTR) continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) throw_error(ETIMEDOUT, "write timed out");
        if (n == -1) throw_errno("write");
        bytes += n;
        size -= static_cast<size_t>(n);
    }
}

void write_all(int fd, std::string_view text) { write_all(fd, text.data(), text.size()); }

Wait wait_readable(int fd, int stop_fd, int timeout_ms) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const nfds_t count = stop_fd >= 0 ? 2 : 1;
    for (;;) {
        const int ready = ::poll(fds, count, timeout_ms);
        if (ready == -1 && errno == EINTR) continue;  // a signal: its handler has done its work, so look again
        if (ready == -1) throw_errno("poll");
        if (ready == 0) return Wait::TimedOut;
        if (count == 2 && fds[1].revents != 0) return Wait::Stopped;
        return Wait::Ready;
    }
}

LineReader::Status LineReader::read_line(std::string& line) {
    char chunk[4096];
    for (;;) {
        const size_t newline = buffer_.find('\n');
        if (newline != std::string::npos && newline <= max_line_) {
            line.assign(buffer_, 0, newline);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            buffer_.erase(0, newline + 1);
            return Status::Line;
        }
        if (buffer_.size() > max_line_) return Status::TooLong;
        // With only a time-out to keep (no stop descriptor), what has already arrived on a socket is read at
        // once: poll() only when there is nothing yet (a worker that finds its next unit waiting makes one
        // system call, not two).
        if (stop_fd_ < 0 && timeout_ms_ >= 0 && !not_a_socket_) {
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n > 0) {
                buffer_.append(chunk, static_cast<size_t>(n));
                continue;
            }
            if (n == -1 && errno == ENOTSOCK)
                not_a_socket_ = true;
            else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                throw_errno("read");
            // (0: the peer closed; read_some below sees it too, after the wait returns at once)
        }
        if (stop_fd_ >= 0 || timeout_ms_ >= 0) {
            const Wait waited = wait_readable(fd_, stop_fd_, timeout_ms_);
            if (waited == Wait::Stopped) return Status::Stopped;
            if (waited == Wait::TimedOut) return Status::TimedOut;
        }
        const size_t n = read_some(fd_, chunk, sizeof chunk);
        if (n == 0) {
            line = std::move(buffer_);
            buffer_.clear();
            return line.empty() ? Status::Eof : Status::EofMidLine;
        }
        buffer_.append(chunk, n);
    }
}

UniqueFd accept_unless_stopped(int listen_fd, int stop_fd, SockAddr* peer) {
    UniqueFd client;
    while (!client) {
        if (wait_readable(listen_fd, stop_fd) == Wait::Stopped) return client;
        client = accept_client(listen_fd, peer);
    }
    return client;
}

Message receive_message(int fd, int stop_fd, std::chrono::milliseconds grace, size_t chunk, size_t max_bytes) {
    using Clock = std::chrono::steady_clock;
    Message message{Message::Status::Complete, {}};
    std::string buffer(chunk, '\0');
    bool stopping = false;
    Clock::time_point give_up_at;
    for (;;) {
        if (!stopping) {
            if (wait_readable(fd, stop_fd) == Wait::Stopped) {
                stopping = true;
                give_up_at = Clock::now() + grace;
                continue;
            }
        } else {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up_at - Clock::now());
            if (wait_readable(fd, -1, static_cast<int>(std::max<long>(0, left.count()))) == Wait::TimedOut) {
                message.status = Message::Status::Stopped;
                break;
            }
        }
        const size_t n = read_some(fd, buffer.data(), buffer.size());
        if (n == 0) break;  // the client closed its side: the message is complete
        message.text.append(buffer.data(), n);
        if (message.text.find('\n') != std::string::npos) break;
        if (message.text.size() > max_bytes) {
            message.text.resize(max_bytes);  // the rest is never read: closing the connection discards it
            message.status = Message::Status::CutOff;
            break;
        }
    }
    if (const auto end = message.text.find('\n'); end != std::string::npos) message.text.resize(end);
    if (!message.text.empty() && message.text.back() == '\r') message.text.pop_back();
    return message;
}

}  // namespace netutil
