// netutil/uring.hpp: io_uring, where the kernel reports that an operation COMPLETED (the Proactor of the
// server-design lecture), where select/poll/epoll report that a descriptor is READY (the Reactor).
//
// A Ring owns one io_uring instance: a submission queue the program fills with operations (accept, recv,
// send, ...) and a completion queue the kernel fills with their results. Programs that use it link with
// -luring (liburing, Debian's liburing-dev). Where io_uring is unavailable (kernel.io_uring_disabled set, an
// old kernel, a seccomp filter that refuses io_uring_setup) the constructor throws UringUnavailable with the
// reason, in words a user can act on.
// One thread uses a Ring: it is not safe to share.
#pragma once

#include <liburing.h>
#include <stdexcept>
#include <string>

namespace netutil {

struct UringUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Ring {
public:
    // A ring of `entries` submission slots (the completion queue is twice as long).
    explicit Ring(unsigned entries);
    // The ring of a server loop that only one thread uses: the kernel runs the work that completes its
    // operations when the loop waits for completions, not at any moment in between (IORING_SETUP_SINGLE_ISSUER
    // | IORING_SETUP_DEFER_TASKRUN, Linux 6.1): fewer interruptions, completions in batches. It is made
    // disabled (its buffers can be registered from any thread); the thread that runs the loop calls
    // start() before its first submission, and is from then on the only one that may submit. A kernel
    // without these flags gets a plain ring, which start() leaves as it is.
    struct OwnThread {};
    Ring(unsigned entries, OwnThread);
    void start();
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    io_uring* get() { return &ring_; }
    // The next free submission slot; when the queue is full, what is queued is submitted first.
    io_uring_sqe* next_sqe();
    // Whether the kernel knows the operation (IORING_OP_...), from its probe.
    bool supports(int opcode) const;

private:
    io_uring ring_{};
    io_uring_probe* probe_ = nullptr;
    bool disabled_ = false;
};

}  // namespace netutil
