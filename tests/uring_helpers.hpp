// tests/uring_helpers.hpp: whether the kernel lets a program use io_uring here, for the suites that run the
// io_uring modes (07's `--mode uring`, 08's `-c uring`): they are skipped, saying why, only where it refuses.
#pragma once

#include <cerrno>
#include <cstring>
#include <linux/io_uring.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

namespace uring_helpers {

// Why the kernel refuses io_uring here ("" where it allows it): the uring tests are skipped, saying so, only
// where io_uring_setup itself fails (kernel.io_uring_disabled, an old kernel, a seccomp filter).
inline std::string uring_refused() {
    static const std::string reason = [] {
        io_uring_params params{};
        const long fd = ::syscall(SYS_io_uring_setup, 4, &params);
        if (fd >= 0) {
            ::close(static_cast<int>(fd));
            return std::string();
        }
        return "the kernel refuses io_uring here (io_uring_setup: " + std::string(std::strerror(errno)) + ")";
    }();
    return reason;
}

}  // namespace uring_helpers
