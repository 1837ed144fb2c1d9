// 07_epoll/models.cpp: the echo and the connection table every mode shares (see models.hpp).
#include "07_epoll/models.hpp"

#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <cerrno>
#include <cstring>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace echo {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadSize = 64 * 1024;
char read_buffer[kReadSize];  // one buffer for every connection: the loop handles one at a time

}  // namespace

std::string mode_name(Mode mode) {
    for (const auto& [name, value] : kModeNames)
        if (value == mode) return name;
    return "?";
}

EchoServer::EchoServer(netutil::UniqueFd listener, const Settings& settings, int fd_limit)
    : listener_(std::move(listener)), settings_(settings), fd_limit_(fd_limit) {
    netutil::set_nonblocking(listener_.get());
}

std::vector<int> EchoServer::accept_clients(size_t limit) {
    std::vector<int> accepted;
    while (listener_ && !paused_ && (limit == 0 || accepted.size() < limit)) {
        netutil::SockAddr peer;
        const int fd = ::accept4(listener_.get(), peer.get(), &peer.length, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors. accept() would fail again at once, and the listening socket stays
                // readable: a level-triggered loop would spin at 100% CPU. Stop watching it instead.
                pause_accepting(errno);
                break;
            }
            netutil::throw_errno("accept");
        }
        if (adopt(netutil::UniqueFd(fd), peer) >= 0) accepted.push_back(fd);
    }
    return accepted;
}

void EchoServer::pause_accepting(int error) {
    if (!short_of_descriptors_) {
        short_of_descriptors_ = true;
        netutil::print_line("out of descriptors (accept: " + std::string(std::strerror(error)) + ") with " +
                            netutil::count(open_, "client") + " connected: new clients wait in the backlog");
    }
    paused_ = true;
    freed_since_pause_ = false;
    retry_at_ = Clock::now() + std::chrono::seconds(1);
    ++pauses_;
}

int EchoServer::adopt(netutil::UniqueFd owned, const netutil::SockAddr& peer) {
    const int fd = owned.get();
    if (short_of_descriptors_) {
        short_of_descriptors_ = false;
        netutil::print_line("accepting again (" + netutil::count(open_, "client") + " connected)");
    }
    if (fd >= fd_limit_) {
        // select() takes a bit array of FD_SETSIZE bits: FD_SET on this descriptor would write past it.
        ++refused_;
        netutil::print_line("refused " + peer.to_string() + ": descriptor " + std::to_string(fd) + " >= FD_SETSIZE (" +
                            std::to_string(fd_limit_) + "), select() cannot watch it");
        return -1;  // `owned` closes it
    }
    if (size_t(fd) >= table_.size()) table_.resize(size_t(fd) + 1);
    auto connection = std::make_unique<Connection>();
    connection->fd = std::move(owned);
    connection->peer = peer.to_string();
    connection->serial = static_cast<uint32_t>(accepted_);
    table_[fd] = std::move(connection);
    ++open_;
    ++accepted_;
    if (open_ > peak_open_) peak_open_ = open_;
    if (!settings_.quiet) netutil::print_line("accepted " + table_[fd]->peer + " on fd " + std::to_string(fd));
    return fd;
}

void EchoServer::count_read(size_t bytes) {
    ++reads_;
    bytes_ += bytes;
}

void EchoServer::log_echo(int fd, size_t bytes, size_t written) const {
    if (!settings_.quiet)
        netutil::print_line("fd " + std::to_string(fd) + ": read " + netutil::count(bytes, "byte") + ", echoed " +
                            std::to_string(written) + (written < bytes ? ", the rest kept for later" : ""));
}

Progress EchoServer::close(int fd, const std::string& why) {
    Connection* connection = find(fd);
    return connection == nullptr ? Progress::Closed : close_connection(*connection, why);
}

bool EchoServer::resume_due() {
    if (!paused_ || !listener_) return false;
    if (!freed_since_pause_ && Clock::now() < retry_at_) return false;
    paused_ = false;
    return true;
}

int EchoServer::wait_timeout_ms() const {
    Clock::time_point until = Clock::time_point::max();
    if (paused_ && listener_) until = retry_at_;
    if (stopping_ && stop_deadline_ < until) until = stop_deadline_;
    if (until == Clock::time_point::max()) return -1;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left + 1);
}

Progress EchoServer::on_readable(int fd, bool drain) {
    Connection* connection = find(fd);
    if (connection == nullptr) return Progress::Closed;
    // Output still waiting: send it first; input waits until it has gone.
    if (connection->has_output() && flush(*connection) == Progress::Closed) return Progress::Closed;
    if (connection->has_output()) return Progress::Open;
    return echo_input(*connection, drain);
}

Progress EchoServer::on_writable(int fd, bool drain) {
    Connection* connection = find(fd);
    if (connection == nullptr) return Progress::Closed;
    if (flush(*connection) == Progress::Closed) return Progress::Closed;
    if (connection->has_output()) return Progress::Open;
    if (connection->peer_closed) return close_connection(*connection, "end of input, everything echoed");
    // Edge-triggered: we may have stopped reading with input still queued (the output was stuck). No new
    // edge will announce it, so read on now, until EAGAIN.
    if (drain) return echo_input(*connection, true);
    return Progress::Open;
}

Progress EchoServer::echo_input(Connection& connection, bool drain) {
    const int fd = connection.fd.get();
    for (;;) {
        const ssize_t n = ::read(fd, read_buffer, kReadSize);
        if (n > 0) {
            count_read(size_t(n));
            // Try to echo at once; whatever the socket does not take is kept in the output buffer.
            ssize_t written = ::send(fd, read_buffer, size_t(n), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (written == -1) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    return close_connection(connection, std::string("write: ") + std::strerror(errno));
                written = 0;
            }
            log_echo(fd, size_t(n), size_t(written));
            if (written < n) {
                // BEGIN SOLUTION 07.1 "the unsent tail of a reply kept in the connection's output buffer"
                connection.output.assign(read_buffer + written, size_t(n - written));
                connection.output_sent = 0;
                // END SOLUTION
                // BEGIN STUB
                // // TODO (07.1): the socket took only `written` of the n bytes: keep the rest, read_buffer[written,
                // // n), in connection.output (from output_sent = 0); flush() sends it once the socket has room.
                // netutil::not_implemented("07.1");
                // END STUB
                return Progress::Open;  // stop reading until the output has gone
            }
            if (!drain) return Progress::Open;  // level-triggered: the loop will tell us if there is more
            continue;
        }
        if (n == 0) {
            connection.peer_closed = true;
            return close_connection(connection, "end of input");
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Progress::Open;  // drained
        return close_connection(connection, std::string("read: ") + std::strerror(errno));
    }
}

Progress EchoServer::flush(Connection& connection) {
    // BEGIN SOLUTION 07.1 "flush: send the output buffer, keep what the socket does not take"
    while (connection.has_output()) {
        const ssize_t n = ::send(connection.fd.get(), connection.output.data() + connection.output_sent,
                                 connection.output.size() - connection.output_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == -1) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return Progress::Open;  // kept for later
            return close_connection(connection, std::string("write: ") + std::strerror(errno));
        }
        connection.output_sent += size_t(n);
    }
    connection.output.clear();
    connection.output.shrink_to_fit();  // idle connections hold no buffer: 10,000 of them stay small
    connection.output_sent = 0;
    return Progress::Open;
    // END SOLUTION
    // BEGIN STUB
    // // TODO (07.1): send connection.output from output_sent on (send with MSG_NOSIGNAL | MSG_DONTWAIT), as much
    // // as the socket takes: EAGAIN keeps the rest for later (Progress::Open), another error closes the
    // // connection (close_connection). Once all is sent, empty the buffer (clear, shrink_to_fit) and reset
    // // output_sent.
    // if (connection.has_output()) netutil::not_implemented("07.1");
    // return Progress::Open;
    // END STUB
}

Progress EchoServer::close_connection(Connection& connection, const std::string& why) {
    const int fd = connection.fd.get();
    if (why.rfind("end of input", 0) != 0) ++errors_;
    if (!settings_.quiet) netutil::print_line("closed fd " + std::to_string(fd) + " (" + connection.peer + "): " + why);
    table_[fd].reset();  // closes the socket; epoll forgets it by itself
    --open_;
    if (paused_) freed_since_pause_ = true;  // a descriptor is free again: accept the clients waiting
    return Progress::Closed;
}

void EchoServer::begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    listener_.reset();
    stop_deadline_ = Clock::now() + std::chrono::milliseconds(static_cast<long>(settings_.grace_seconds * 1000));
    if (open_ > 0)
        netutil::print_line("stopping: no new clients; waiting up to " +
                            std::to_string(static_cast<int>(settings_.grace_seconds)) + " s for " +
                            netutil::count(open_, "connected client") + " to leave");
}

bool EchoServer::done() const { return stopping_ && (open_ == 0 || Clock::now() >= stop_deadline_); }

void EchoServer::close_all() {
    for (auto& connection : table_) connection.reset();
    open_ = 0;
}

void EchoServer::print_summary(int signo) const {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    netutil::print_line("server stopped" + (signo != 0 ? " by " + netutil::signal_name(signo) : std::string()) + ": " +
                        netutil::count(accepted_, "connection") + " served (at most " + std::to_string(peak_open_) +
                        " at once), " + netutil::count(reads_, "read") + " echoed, " + netutil::count(bytes_, "byte") +
                        ", " + std::to_string(errors_) + " closed on errors, " + std::to_string(refused_) +
                        " refused (FD_SETSIZE), " + std::to_string(pauses_) + " accept pauses (EMFILE)");
    netutil::print_line("CPU time: " + netutil::format_cpu_time(netutil::cpu_time_self()) + "; peak resident memory " +
                        std::to_string(usage.ru_maxrss / 1024) + " MiB");
}

}  // namespace echo
