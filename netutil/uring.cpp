#include "netutil/uring.hpp"

#include "netutil/error.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sys/syscall.h>
#include <unistd.h>

namespace netutil {

namespace {

// Why io_uring_setup failed, in words: the usual causes on a Linux machine, and what to do.
std::string why_unavailable(int error) {
    std::string why = std::string("io_uring is not available here: io_uring_setup: ") + std::strerror(error);
    int disabled = 0;
    if (std::ifstream("/proc/sys/kernel/io_uring_disabled") >> disabled && disabled != 0)
        return why + " (kernel.io_uring_disabled is " + std::to_string(disabled) +
               "; `sysctl kernel.io_uring_disabled=0` allows it)";
    if (error == ENOSYS) return why + " (the kernel has no io_uring: Linux 5.1 or newer has it)";
    if (error == EPERM) return why + " (refused: a seccomp filter, a container's policy or a sysctl forbids it)";
    return why;
}

}  // namespace

Ring::Ring(unsigned entries) {
    if (const int rc = ::io_uring_queue_init(entries, &ring_, 0); rc < 0) throw UringUnavailable(why_unavailable(-rc));
    probe_ = ::io_uring_get_probe_ring(&ring_);
}

Ring::Ring(unsigned entries, OwnThread) {
    int rc = ::io_uring_queue_init(entries, &ring_,
                                   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED);
    disabled_ = rc == 0;
    if (rc == -EINVAL) rc = ::io_uring_queue_init(entries, &ring_, 0);  // a kernel older than 6.1
    if (rc < 0) throw UringUnavailable(why_unavailable(-rc));
    probe_ = ::io_uring_get_probe_ring(&ring_);
}

void Ring::start() {
    if (!disabled_) return;
    // (io_uring_register directly: Debian's liburing 2.3 has no io_uring_enable_rings.)
    if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) == -1)
        throw_errno("io_uring_register IORING_REGISTER_ENABLE_RINGS");
    disabled_ = false;
}

Ring::~Ring() {
    if (probe_ != nullptr) ::io_uring_free_probe(probe_);
    ::io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::next_sqe() {
    io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
    if (sqe != nullptr) return sqe;
    if (const int rc = ::io_uring_submit(&ring_); rc < 0) throw_error(-rc, "io_uring_submit");
    sqe = ::io_uring_get_sqe(&ring_);
    if (sqe == nullptr) throw_error(EBUSY, "io_uring_get_sqe");
    return sqe;
}

bool Ring::supports(int opcode) const { return probe_ != nullptr && ::io_uring_opcode_supported(probe_, opcode); }

}  // namespace netutil
