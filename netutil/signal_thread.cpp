// netutil/signal_thread.cpp: see signal_thread.hpp (ThreadSanitizer builds only).
#include "netutil/signal_thread.hpp"

#include <pthread.h>
#include <thread>

namespace netutil::detail {

namespace {

sigset_t blocked_by_us;  // every set taken so far: a forked child unblocks them again

extern "C" void unblock_in_child() { ::pthread_sigmask(SIG_UNBLOCK, &blocked_by_us, nullptr); }

}  // namespace

std::mutex& signal_thread_mutex() {
    static std::mutex mutex;
    return mutex;
}

void take_signals_in_a_thread(const sigset_t& signals, void (*handler)(int)) {
    static std::once_flag once;
    std::call_once(once, [] {
        ::sigemptyset(&blocked_by_us);
        ::pthread_atfork(nullptr, nullptr, unblock_in_child);
    });
    ::sigorset(&blocked_by_us, &blocked_by_us, &signals);
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // The thread starts with every signal blocked (it takes its own with sigwaitinfo), so no handler ever
    // runs in it: a signal of a later call (01 adds SIGHUP) goes to that call's thread.
    sigset_t all, previous;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &previous);
    std::thread([signals, handler] {
        for (;;)
            if (const int signo = ::sigwaitinfo(&signals, nullptr); signo > 0) {
                const std::lock_guard lock(signal_thread_mutex());
                handler(signo);
            }
    }).detach();
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace netutil::detail
