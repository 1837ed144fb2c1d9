#include "netutil/socket.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

namespace netutil {

namespace {

std::string join_host_port(const std::string& host, uint16_t port) {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

// Waits for a non-blocking connect() to finish; returns 0 or the errno it failed with.
int finish_connect(int fd, std::chrono::milliseconds timeout) {
    pollfd pfd{fd, POLLOUT, 0};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) left = std::chrono::milliseconds(0);
        const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready == -1 && errno == EINTR) continue;
        if (ready == -1) return errno;
        if (ready == 0) return ETIMEDOUT;
        int error = 0;
        socklen_t len = sizeof error;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1) return errno;
        return error;
    }
}

// getaddrinfo() for HOST:PORT, freed by the owner; a name that does not resolve throws EHOSTUNREACH.
using AddrInfoList = std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)>;

AddrInfoList lookup(const std::string& host, uint16_t port, int socktype) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc != 0) {
        const std::string why = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
        throw_error(EHOSTUNREACH, "resolve " + host + " (" + why + ")");
    }
    return AddrInfoList(found, &::freeaddrinfo);
}

void set_timeout(int fd, int option, std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    check(::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv), "setsockopt timeout");
}

}  // namespace

uint16_t SockAddr::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return 0;
}

std::string SockAddr::host() const {
    char text[INET6_ADDRSTRLEN] = "?";
    if (family() == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text, sizeof text);
    else if (family() == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text, sizeof text);
    return text;
}

std::string SockAddr::to_string() const { return join_host_port(host(), port()); }

SockAddr resolve(const std::string& host, uint16_t port, int socktype) {
    const AddrInfoList found = lookup(host, port, socktype);
    SockAddr address;
    std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
    address.length = found->ai_addrlen;
    return address;
}

UniqueFd tcp_listen(const std::string& bind_address, uint16_t port, int backlog) {
    const SockAddr address = resolve(bind_address, port);
    const std::string where = join_host_port(bind_address, port);
    UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket for " + where);
    const int on = 1;
    check(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), "setsockopt SO_REUSEADDR");
    if (::bind(fd.get(), address.get(), address.length) == -1) throw_errno("bind " + where);
    if (::listen(fd.get(), backlog) == -1) throw_errno("listen on " + where);
    return fd;
}

UniqueFd tcp_connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
    const std::string where = join_host_port(host, port);
    const AddrInfoList found = lookup(host, port, SOCK_STREAM);
    int last_error = ECONNREFUSED;
    for (const addrinfo* ai = found.get(); ai != nullptr; ai = ai->ai_next) {
        UniqueFd fd(::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd) {
            last_error = errno;
            continue;
        }
        int error = 0;
        if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == -1)
            error = errno == EINPROGRESS ? finish_connect(fd.get(), timeout) : errno;
        if (error == 0) {
            set_nonblocking(fd.get(), false);
            return fd;
        }
        last_error = error;
    }
    if (last_error == ETIMEDOUT)
        throw_error(ETIMEDOUT, "connect to " + where + " timed out after " + std::to_string(timeout.count()) + " ms");
    throw_error(last_error, "connect to " + where);
}

UniqueFd accept_client(int listen_fd, SockAddr* peer) {
    for (;;) {
        SockAddr address;
        const int fd = ::accept4(listen_fd, address.get(), &address.length, SOCK_CLOEXEC);
        if (fd >= 0) {
            if (peer != nullptr) *peer = address;
            return UniqueFd(fd);
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return UniqueFd();
        throw_errno("accept");
    }
}

UniqueFd udp_bind(const std::string& bind_address, uint16_t port) {
    const SockAddr address = resolve(bind_address, port, SOCK_DGRAM);
    const std::string where = join_host_port(bind_address, port);
    UniqueFd fd(::socket(address.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket for " + where);
    if (::bind(fd.get(), address.get(), address.length) == -1) throw_errno("bind " + where);
    return fd;
}

UniqueFd udp_socket(const SockAddr& to) {
    UniqueFd fd(::socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket");
    return fd;
}

SockAddr local_address(int fd) {
    SockAddr address;
    check(::getsockname(fd, address.get(), &address.length), "getsockname");
    return address;
}

SockAddr peer_address(int fd) {
    SockAddr address;
    check(::getpeername(fd, address.get(), &address.length), "getpeername");
    return address;
}

void print_listening(int fd) { print_line("listening on " + local_address(fd).to_string()); }

void set_nonblocking(int fd, bool on) {
    const int flags = check(::fcntl(fd, F_GETFL), "fcntl F_GETFL");
    check(::fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK), "fcntl F_SETFL");
}

void set_receive_timeout(int fd, std::chrono::milliseconds timeout) { set_timeout(fd, SO_RCVTIMEO, timeout); }
void set_send_timeout(int fd, std::chrono::milliseconds timeout) { set_timeout(fd, SO_SNDTIMEO, timeout); }

}  // namespace netutil
