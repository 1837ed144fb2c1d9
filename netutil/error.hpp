// netutil/error.hpp: system-call failures become std::system_error carrying errno.
//
// Every lab checks its calls with `check(::call(...), "what it did")`; the exception travels to one place
// in main (netutil::run_main in cli.hpp), which prints `program: what it did: strerror` and exits 1.
#pragma once

#include <string>
#include <sys/types.h>
#include <system_error>

namespace netutil {

// Throws std::system_error(errno) with `what` as the message.
[[noreturn]] void throw_errno(const std::string& what);
// Throws std::system_error(code) with `what`, for calls that return the error instead of setting errno.
[[noreturn]] void throw_error(int code, const std::string& what);

// Returns `result` unless it is -1, in which case it throws with errno.
inline int check(int result, const char* what) {
    if (result == -1) throw_errno(what);
    return result;
}
inline ssize_t check(ssize_t result, const char* what) {
    if (result == -1) throw_errno(what);
    return result;
}

}  // namespace netutil
