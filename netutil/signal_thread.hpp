// netutil/signal_thread.hpp: ThreadSanitizer builds only, the stop signals taken by a thread of their own.
//
// TSan catches every signal itself and runs the program's handler later, at a moment it deems safe; a
// SIGTERM sent just as a server printed its first lines was seen never to reach the handler (about once in
// 300 runs), leaving the server waiting for good. So in those builds stop_on_signals also blocks the stop
// signals, in the calling thread and the threads it starts from then on, and a thread of their own takes
// them with sigwaitinfo() and runs the handler's code as an ordinary call. A forked child has no such
// thread: it unblocks them again and gets them through the handler, as in the normal build.
// The normal and AddressSanitizer builds never use this file.
#pragma once

#include <csignal>
#include <mutex>

namespace netutil::detail {

#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif

// Blocks `signals` and starts a thread that calls `handler` for each one, holding signal_thread_mutex().
void take_signals_in_a_thread(const sigset_t& signals, void (*handler)(int));

// Held while the signal thread runs the handler: a StopPipe takes it before closing its write end.
std::mutex& signal_thread_mutex();

}  // namespace netutil::detail
