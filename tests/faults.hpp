// tests/faults.hpp: the misbehaving clients and the after-check of the fault-injection suite
// (tests/test_faults_*.cpp), shared by every lab's fault tests.
//
//   const faults::Footprint before = faults::footprint(server);   // once the server is idle
//   faults::reset_mid_reply(port, "1048576\n", 1000);             // the fault
//   ... a well-behaved client is still served ...
//   faults::expect_nothing_left(server, before);                  // no descriptor, thread or zombie left
//
// Every client here is the test's own socket, so a test can do what a real client never would: vanish with
// a reset in the middle of a reply, half-close, trickle a byte at a time, never read, or hold a connection
// silent (slowloris).
#pragma once

#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace faults {

using namespace std::chrono_literals;
using harness::Connection;
using harness::Duration;

// What a running server holds, from /proc: open descriptors, threads, child processes.
struct Footprint {
    int fds = 0;
    int threads = 0;
    size_t children = 0;
};

inline Footprint footprint(const harness::Process& server) {
    return {server.open_fd_count(), server.thread_count(), server.children().size()};
}

// Waits until the server holds no more descriptors, threads (where thread counts are exact) and children
// than `before`, and has no zombie child; fails the test naming what stayed behind.
inline void expect_nothing_left(harness::Process& server, const Footprint& before, Duration timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + harness::scaled(timeout);
    Footprint now;
    size_t zombies = 0;
    for (;;) {
        now = footprint(server);
        zombies = server.zombie_children().size();
        const bool threads_ok = !harness::exact_thread_counts() || now.threads <= before.threads;
        if (now.fds <= before.fds && threads_ok && now.children <= before.children && zombies == 0) return;
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(20ms);  // polling /proc: there is no event to wait on
    }
    ADD_FAILURE() << server.name() << " did not return to its footprint: descriptors " << now.fds << " (was "
                  << before.fds << "), threads " << now.threads << " (was " << before.threads << "), children "
                  << now.children << " (was " << before.children << "), zombies " << zombies;
}

// Closes with a reset (SO_LINGER 0) instead of an orderly FIN: the peer's next write fails with ECONNRESET
// or EPIPE, as when a client process is killed or its machine vanishes.
inline void reset(Connection& connection) {
    const linger abort_on_close{1, 0};
    ::setsockopt(connection.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    connection.close();
}

// Sends `request`, reads the first `read_bytes` bytes of the reply, then vanishes with a reset.
// Returns the bytes read (fewer than asked if the server closed first).
inline std::string reset_mid_reply(uint16_t port, std::string_view request, size_t read_bytes) {
    Connection connection(port);
    connection.send(request);
    std::string got = connection.read_exact(read_bytes);
    reset(connection);
    return got;
}

// Sends `request`, half-closes (shutdown SHUT_WR: "no more requests"), and reads the reply until the server
// closes. A server must still answer everything it was sent before the FIN.
inline std::string half_close(uint16_t port, std::string_view request, Duration timeout = 10s) {
    Connection connection(port);
    connection.send(request);
    connection.shutdown_write();
    return connection.read_all(harness::scaled(timeout));
}

// Opens a connection and sends `request` one byte at a time, `gap` apart; the caller reads the reply.
inline std::unique_ptr<Connection> trickle(uint16_t port, std::string_view request, Duration gap = 5ms) {
    auto connection = std::make_unique<Connection>(port);
    int nodelay = 1;
    ::setsockopt(connection->fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
    for (const char byte : request) {
        connection->send(std::string_view(&byte, 1));
        std::this_thread::sleep_for(gap);  // pacing the client, not waiting for the server
    }
    return connection;
}

// Opens a connection with a small receive buffer and sends `request` without ever reading: once the
// socket buffers fill, the server's writes to it block (or return EAGAIN). Keep it alive while checking
// that other clients are served; destroy it to let the server go. `request` is sent before returning, so
// it must fit the socket buffers: a request whose reply is large (a byte count, an HTTP GET), not a large
// upload (an echo server's stuck client needs a sender thread of its own).
inline std::unique_ptr<Connection> never_reads(uint16_t port, std::string_view request) {
    auto connection = std::make_unique<Connection>(port);
    const int small = 4096;
    ::setsockopt(connection->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    connection->send(request);
    return connection;
}

// Slowloris: `count` connections, each sending `partial` (a request that is never finished, or nothing)
// and then holding on silently.
inline std::vector<std::unique_ptr<Connection>> slowloris(uint16_t port, size_t count, std::string_view partial = {}) {
    std::vector<std::unique_ptr<Connection>> held;
    for (size_t i = 0; i < count; ++i) {
        held.push_back(std::make_unique<Connection>(port));
        if (!partial.empty()) held.back()->send(partial);
    }
    return held;
}

}  // namespace faults
