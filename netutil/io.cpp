#include "netutil/io.hpp"

#include "netutil/error.hpp"

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

}  // namespace netutil
