#include "netutil/fd.hpp"

#include <cerrno>
#include <unistd.h>

namespace netutil {

void UniqueFd::reset(int fd) noexcept {
    if (fd_ >= 0 && fd_ != fd) {
        const int saved = errno;
        ::close(fd_);  // never retried: Linux frees the descriptor even when close() reports EINTR
        errno = saved;
    }
    fd_ = fd;
}

}  // namespace netutil
