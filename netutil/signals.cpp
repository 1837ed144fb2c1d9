#include "netutil/signals.hpp"

#include "netutil/error.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <pthread.h>
#include <poll.h>
#include <string>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace netutil {

namespace {

// Lock-free atomics: safe in a signal handler, and read by the signal thread below.
std::atomic<int> stop_write_fd{-1};
std::atomic<int> last_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signo) {
    const int saved = errno;
    last_signal = signo;
    const char byte = 's';
    if (const int fd = stop_write_fd; fd >= 0) [[maybe_unused]] auto ignored = ::write(fd, &byte, 1);
    errno = saved;
}

#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif

// ThreadSanitizer builds only. TSan catches every signal itself and runs the program's handler later, at
// a moment it deems safe; a SIGTERM sent just as a server printed its first lines was seen never to reach
// the handler (about once in 300 runs), leaving the server waiting for good. So in those builds the stop
// signals are also blocked, in the calling thread and the threads it starts from then on, and a thread of
// their own takes them with sigwaitinfo() and runs the handler's code as an ordinary call. A forked child
// has no such thread: it unblocks them again and gets them through the handler, as in the normal build.
sigset_t tsan_blocked;
// Orders the signal thread's write into the stop pipe before the pipe's closing (~StopPipe).
std::mutex tsan_stop_mutex;

extern "C" void unblock_in_child() { ::pthread_sigmask(SIG_UNBLOCK, &tsan_blocked, nullptr); }

void take_signals_in_a_thread(const sigset_t& set) {
    static std::once_flag once;
    std::call_once(once, [] {
        ::sigemptyset(&tsan_blocked);
        ::pthread_atfork(nullptr, nullptr, unblock_in_child);
    });
    ::sigorset(&tsan_blocked, &tsan_blocked, &set);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // The thread starts with every signal blocked (it takes its own with sigwaitinfo), so no handler ever
    // runs in it: a signal of a later call (01 adds SIGHUP) goes to that call's thread.
    sigset_t all, previous;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &previous);
    std::thread([set] {
        for (;;)
            if (const int signo = ::sigwaitinfo(&set, nullptr); signo > 0) {
                std::lock_guard lock(tsan_stop_mutex);
                on_stop_signal(signo);
            }
    }).detach();
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace

void ignore_sigpipe() {
    struct sigaction action {};
    action.sa_handler = SIG_IGN;
    check(::sigaction(SIGPIPE, &action, nullptr), "sigaction SIGPIPE");
}

StopPipe::StopPipe() {
    int ends[2];
    // Non-blocking, so request_stop() can never block, even if called more times than the pipe holds.
    check(::pipe2(ends, O_CLOEXEC | O_NONBLOCK), "pipe2");
    read_end_.reset(ends[0]);
    write_end_.reset(ends[1]);
}

StopPipe::~StopPipe() {
    std::unique_lock<std::mutex> lock;
    if (kThreadSanitizer) lock = std::unique_lock(tsan_stop_mutex);
    if (stop_write_fd == write_end_.get()) stop_write_fd = -1;
}

void StopPipe::request_stop() const noexcept {
    const int saved = errno;
    const char byte = 's';
    [[maybe_unused]] auto ignored = ::write(write_end_.get(), &byte, 1);  // a full pipe is readable anyway
    errno = saved;
}

bool StopPipe::stop_requested() const {
    pollfd pfd{read_end_.get(), POLLIN, 0};
    while (::poll(&pfd, 1, 0) == -1) {
        if (errno != EINTR) throw_errno("poll");
    }
    return (pfd.revents & POLLIN) != 0;
}

void stop_on_signals(const StopPipe& stop, std::initializer_list<int> signals) {
    stop_write_fd = stop.write_end_.get();
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    ::sigemptyset(&action.sa_mask);
    sigset_t taken;
    ::sigemptyset(&taken);
    for (int signo : signals) {
        // Started under nohup, SIGHUP is ignored, and stays so: the server is meant to outlive its terminal.
        struct sigaction before {};
        check(::sigaction(signo, nullptr, &before), "sigaction");
        if (signo == SIGHUP && before.sa_handler == SIG_IGN) continue;
        check(::sigaction(signo, &action, nullptr), "sigaction");
        ::sigaddset(&taken, signo);
    }
    if (kThreadSanitizer) take_signals_in_a_thread(taken);
}

int caught_signal() { return last_signal; }

sigset_t signal_set(std::initializer_list<int> signals) {
    sigset_t set;
    ::sigemptyset(&set);
    for (int signo : signals) ::sigaddset(&set, signo);
    return set;
}

void block_signals(const sigset_t& signals) {
    const int rc = ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    if (rc != 0) throw_error(rc, "pthread_sigmask");
}

int wait_signal(const sigset_t& signals) {
    for (;;) {
        const int signo = ::sigwaitinfo(&signals, nullptr);
        if (signo > 0) return signo;
        if (errno != EINTR) throw_errno("sigwaitinfo");
    }
}

UniqueFd make_signalfd(const sigset_t& signals) {
    return UniqueFd(check(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd"));
}

std::vector<ChildExit> reap_children() {
    std::vector<ChildExit> done;
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            done.push_back({pid, status});
            continue;
        }
        if (pid == -1 && errno == EINTR) continue;
        return done;  // 0: children still running; -1 ECHILD: none left
    }
}

std::string signal_name(int signo) {
    const char* abbrev = ::sigabbrev_np(signo);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signo);
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by " + signal_name(WTERMSIG(status));
    return "status " + std::to_string(status);
}

}  // namespace netutil
