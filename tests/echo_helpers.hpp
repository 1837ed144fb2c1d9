// tests/echo_helpers.hpp: what the tests of the single-process echo servers (06_sigio, 07_epoll) and their
// fault suite (test_faults_echo.cpp) look at from outside: the server's sockets, from /proc (its CPU time:
// harness::cpu_seconds).
#pragma once

#include "tests/harness.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

namespace echo_helpers {

using namespace std::chrono_literals;

// Raises this process's soft descriptor limit (children inherit it); false if the hard limit is lower.
inline bool raise_own_fd_limit(rlim_t wanted) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_max < wanted) return false;
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = wanted;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    return true;
}

// Sockets the server holds (from /proc/PID/fd): with every client gone, only the listening socket is left.
inline int socket_count(pid_t pid) {
    int sockets = 0;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
        std::error_code link_error;
        const auto target = std::filesystem::read_symlink(entry.path(), link_error);
        if (!link_error && target.string().rfind("socket:", 0) == 0) ++sockets;
    }
    return sockets;
}

// Waits until the server holds only its listening socket: every client connection closed, none leaked.
inline bool wait_only_listener(harness::Process& server, harness::Duration timeout = 10s) {
    return harness::wait_until([&] { return socket_count(server.pid()) == 1; }, timeout);
}

}  // namespace echo_helpers
