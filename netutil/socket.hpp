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

namespace netutil {

// A socket address of either family, as filled in by accept(), recvfrom() or getsockname().
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t length = sizeof(sockaddr_storage);

    sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    int family() const { return storage.ss_family; }
    uint16_t port() const;
    std::string host() const;       // "127.0.0.1" or "::1"
    std::string to_string() const;  // "127.0.0.1:49153" or "[::1]:49153"
};

// Resolves HOST and PORT (numeric or a name such as "localhost") to the first address found.
SockAddr resolve(const std::string& host, uint16_t port, int socktype = SOCK_STREAM);

// A listening TCP socket bound to BIND_ADDRESS:PORT (port 0: any free port; "0.0.0.0" or "::" for every
// address), with SO_REUSEADDR and a backlog of SOMAXCONN so bursts of clients queue instead of being refused.
UniqueFd tcp_listen(const std::string& bind_address, uint16_t port, int backlog = SOMAXCONN);

// A connected TCP socket to HOST:PORT, trying each address the name resolves to. Gives up after `timeout`
// with ETIMEDOUT; the socket returned is blocking.
UniqueFd tcp_connect(const std::string& host, uint16_t port,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// accept4() with SOCK_CLOEXEC, retried on EINTR. Returns an empty UniqueFd when there is nothing to accept
// on a non-blocking socket (EAGAIN) or the client gave up before we accepted it (ECONNABORTED); any other
// failure throws. `peer`, when given, receives the client's address.
UniqueFd accept_client(int listen_fd, SockAddr* peer = nullptr);

// A UDP socket bound to BIND_ADDRESS:PORT (port 0: any free port).
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
