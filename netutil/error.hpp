// netutil/error.hpp: system-call failures become std::system_error carrying errno.
//
// Every lab checks its calls with `check(::call(...), "what it did")`; the exception travels to one place
// in main (netutil::run_main in cli.hpp), which prints `program: what it did: strerror` and exits 1.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>
#include <system_error>

namespace netutil {

// Throws std::system_error(errno) with `what` as the message.
[[noreturn]] void throw_errno(const std::string& what);
// Throws std::system_error(code) with `what`, for calls that return the error instead of setting errno.
[[noreturn]] void throw_error(int code, const std::string& what);

// The stub of an assignment's solution region in the student handout (tools/handout.py, ASSIGNMENTS.md): prints
// `not implemented: assignment 08.1 (see 08_webclient/README.md#assignment-1)` on stderr and ends the process
// with _Exit(1) at once (no destructors, no atexit: other threads may be running). When several threads reach
// a stub together, one prints and ends the process; the others wait for it.
[[noreturn]] void not_implemented(const char* id);
// `see` part of that line for an id "LL.N": "LL_name/README.md#assignment-N" ("" for an id of no lab).
std::string assignment_anchor(std::string_view id);

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
