// netutil/fd.hpp: UniqueFd, the one owner of a file descriptor.
//
// Owns: one descriptor, closed exactly once when the owner dies or is reset.
// Move-only, so ownership is always visible: pass it by value to hand it over, by `get()` to lend it.
// No implicit conversion to int; `release()` gives the descriptor up without closing it.
#pragma once

#include <utility>

namespace netutil {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    ~UniqueFd() { reset(); }

    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }

    // Gives up ownership: the caller now closes the descriptor.
    int release() noexcept { return std::exchange(fd_, -1); }

    // Closes the owned descriptor (if any) and takes `fd` instead. Keeps errno, so it is safe in error
    // paths, and never retries close() on EINTR: on Linux the descriptor is gone whatever close() says.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

}  // namespace netutil
