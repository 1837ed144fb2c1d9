// netutil/socket.hpp: TCP and UDP sockets for IPv4 and IPv6, and their addresses as text.
//
// Every socket is created with SOCK_CLOEXEC, so a forked-and-exec'd program never inherits it by accident.
// Failures throw std::system_error whose message names the address, e.g. `bind 0.0.0.0:8080`.
#pragma once

#include "netutil/fd.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace netutil {

// A socket address of either family, as filled in by accept(), recvfrom() or getsockname().
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t length = sizeof(sockaddr_storage);

    sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    int family() const { return storage.ss_family; }
    uint16_t port() const;
    std::string host() const;       // "127.0.0.1" or "::1"; an IPv4-mapped address as plain IPv4
    std::string to_string() const;  // "127.0.0.1:49153" or "[::1]:49153"
};

// "host:port", or "[::1]:port" for an IPv6 address: how errors name a destination.
std::string join_host_port(const std::string& host, uint16_t port);

// The servers' default bind address: every address, IPv6 and IPv4 alike. A socket bound to "::" is made
// dual-stack (IPV6_V6ONLY off), so an IPv4 client arrives as an IPv4-mapped address (::ffff:127.0.0.1) and
// `localhost` works whether it resolves to ::1 or 127.0.0.1 first. Where IPv6 is off, "::" falls back to
// 0.0.0.0. "0.0.0.0" binds IPv4 only, "::1" or "127.0.0.1" the loopback of one family.
inline constexpr const char* kAnyAddress = "::";

// Every address HOST and PORT (numeric, or a name such as "localhost") resolve to, in the resolver's order
// of preference: on a stock Debian or Ubuntu, `localhost` gives ::1 first, then 127.0.0.1. A name that does
// not resolve throws EHOSTUNREACH with the resolver's own reason.
std::vector<SockAddr> resolve_all(const std::string& host, uint16_t port, int socktype = SOCK_STREAM);

// A listening TCP socket bound to BIND_ADDRESS:PORT (port 0: any free port; kAnyAddress for every address),
// with SO_REUSEADDR and a backlog of SOMAXCONN so bursts of clients queue instead of being refused.
// `reuse_port`: SO_REUSEPORT as well, so that several sockets (one per event loop) share the port.
UniqueFd tcp_listen(const std::string& bind_address, uint16_t port, bool reuse_port = false);

// A connected TCP socket to HOST:PORT, trying each address the name resolves to, in order, until one
// connects. Each attempt gives up after `timeout` with ETIMEDOUT; the socket returned is blocking.
UniqueFd tcp_connect(const std::string& host, uint16_t port,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
// The same for addresses resolved once (a client that opens thousands of connections); `where` names
// the destination in errors. Returns the index of the address that answered in `*used`, when given.
UniqueFd tcp_connect(const std::vector<SockAddr>& addresses, const std::string& where,
                     std::chrono::milliseconds timeout, size_t* used = nullptr);

// accept4() with SOCK_CLOEXEC, retried on EINTR. Returns an empty UniqueFd when there is nothing to accept
// on a non-blocking socket (EAGAIN) or the client gave up before we accepted it (ECONNABORTED); any other
// failure throws. `peer`, when given, receives the client's address.
UniqueFd accept_client(int listen_fd, SockAddr* peer = nullptr);

// A UDP socket bound to BIND_ADDRESS:PORT (port 0: any free port; kAnyAddress: dual-stack, as above).
UniqueFd udp_bind(const std::string& bind_address, uint16_t port);
// An unbound UDP socket of the family of `to`, for a client that sends to `to`.
UniqueFd udp_socket(const SockAddr& to);

// The address a socket is bound to, and the one it is connected to.
SockAddr local_address(int fd);
SockAddr peer_address(int fd);

// Prints the line every server starts with, `listening on ADDRESS:PORT`, with the real bound port.
void print_listening(int fd);

void set_nonblocking(int fd, bool on = true);
// SO_RCVTIMEO / SO_SNDTIMEO: a blocking recv/send gives up with EAGAIN after `timeout` (0: never).
void set_receive_timeout(int fd, std::chrono::milliseconds timeout);
void set_send_timeout(int fd, std::chrono::milliseconds timeout);

}  // namespace netutil
