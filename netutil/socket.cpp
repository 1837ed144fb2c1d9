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

// getaddrinfo()'s own errors (EAI_NONAME...), so that a name that does not resolve reads
// `resolve nosuchhost.invalid: Name or service not known` and not with an unrelated errno's text.
class ResolverCategory : public std::error_category {
public:
    const char* name() const noexcept override { return "getaddrinfo"; }
    std::string message(int code) const override { return ::gai_strerror(code); }
};

// getaddrinfo() for HOST:PORT, freed by the owner; a name that does not resolve throws.
using AddrInfoList = std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)>;

AddrInfoList lookup(const std::string& host, uint16_t port, int socktype) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc == EAI_SYSTEM) throw_errno("resolve " + host);
    if (rc != 0) {
        static const ResolverCategory resolver;
        throw std::system_error(rc, resolver, "resolve " + host);
    }
    return AddrInfoList(found, &::freeaddrinfo);
}

// A socket bound to BIND_ADDRESS:PORT. "::" is made dual-stack, or becomes 0.0.0.0 where IPv6 is off.
UniqueFd bound_socket(const std::string& bind_address, uint16_t port, int socktype, bool reuse_port) {
    const bool any = bind_address == kAnyAddress;
    SockAddr address = resolve_all(bind_address, port, socktype).front();
    UniqueFd fd(::socket(address.family(), socktype | SOCK_CLOEXEC, 0));
    if (!fd && any && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT))
        return bound_socket("0.0.0.0", port, socktype, reuse_port);  // a kernel without IPv6
    const std::string where = join_host_port(bind_address, port);
    if (!fd) throw_errno("socket for " + where);
    const int on = 1, off = 0;
    if (any) check(::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off), "setsockopt IPV6_V6ONLY");
    if (socktype == SOCK_STREAM)
        check(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), "setsockopt SO_REUSEADDR");
    if (reuse_port) check(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on), "setsockopt SO_REUSEPORT");
    if (::bind(fd.get(), address.get(), address.length) == -1) {
        if (any && errno == EADDRNOTAVAIL) return bound_socket("0.0.0.0", port, socktype, reuse_port);  // IPv6 off
        throw_errno("bind " + where);
    }
    return fd;
}

void set_timeout(int fd, int option, std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    check(::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv), "setsockopt timeout");
}

}  // namespace

std::string join_host_port(const std::string& host, uint16_t port) {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

uint16_t SockAddr::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return 0;
}

std::string SockAddr::host() const {
    char text[INET6_ADDRSTRLEN] = "?";
    if (family() == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text, sizeof text);
    } else if (family() == AF_INET6) {
        const in6_addr& address = reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&address))  // an IPv4 client of a dual-stack socket: shown as it connected
            ::inet_ntop(AF_INET, &address.s6_addr[12], text, sizeof text);
        else
            ::inet_ntop(AF_INET6, &address, text, sizeof text);
    }
    return text;
}

std::string SockAddr::to_string() const { return join_host_port(host(), port()); }

std::vector<SockAddr> resolve_all(const std::string& host, uint16_t port, int socktype) {
    const AddrInfoList found = lookup(host, port, socktype);
    std::vector<SockAddr> addresses;
    for (const addrinfo* ai = found.get(); ai != nullptr; ai = ai->ai_next) {
        SockAddr address;
        std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
        address.length = ai->ai_addrlen;
        addresses.push_back(address);
    }
    return addresses;
}

UniqueFd tcp_listen(const std::string& bind_address, uint16_t port, bool reuse_port) {
    UniqueFd fd = bound_socket(bind_address, port, SOCK_STREAM, reuse_port);
    if (::listen(fd.get(), SOMAXCONN) == -1) throw_errno("listen on " + join_host_port(bind_address, port));
    return fd;
}

UniqueFd tcp_connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
    return tcp_connect(resolve_all(host, port), join_host_port(host, port), timeout);
}

UniqueFd tcp_connect(const std::vector<SockAddr>& addresses, const std::string& where,
                     std::chrono::milliseconds timeout, size_t* used) {
    int last_error = ECONNREFUSED;
    for (size_t i = 0; i < addresses.size(); ++i) {
        const SockAddr& address = addresses[i];
        UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd) {
            last_error = errno;
            continue;
        }
        int error = 0;
        if (::connect(fd.get(), address.get(), address.length) == -1)
            error = errno == EINPROGRESS ? finish_connect(fd.get(), timeout) : errno;
        if (error == 0) {
            set_nonblocking(fd.get(), false);
            if (used != nullptr) *used = i;
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
    return bound_socket(bind_address, port, SOCK_DGRAM, false);
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
