#include "netutil/signals.hpp"

#include "netutil/error.hpp"
#include "netutil/signal_thread.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <string>
#include <sys/signalfd.h>
#include <sys/wait.h>
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
    if (const int fd = stop_write_fd; fd >= 0) [[maybe_unused]]
        auto ignored = ::write(fd, &byte, 1);
    errno = saved;
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
    std::unique_lock<std::mutex> lock;  // the signal thread (ThreadSanitizer builds) may be writing into it
    if (detail::kThreadSanitizer) lock = std::unique_lock(detail::signal_thread_mutex());
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
    return (pfd.revents & (POLLIN | POLLHUP)) != 0;  // POLLHUP: every write end closed (close_write_end)
}

void stop_on_signals(const StopPipe& stop, std::initializer_list<int> signals) {
    hangup_ignored();  // recorded before any handler of ours is in place
    stop_write_fd = stop.write_end_.get();
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    ::sigemptyset(&action.sa_mask);
    sigset_t taken;
    ::sigemptyset(&taken);
    for (int signo : signals) {
        if (signo == SIGHUP && hangup_ignored()) continue;  // nohup: stays ignored
        check(::sigaction(signo, &action, nullptr), "sigaction");
        ::sigaddset(&taken, signo);
    }
    if (detail::kThreadSanitizer) detail::take_signals_in_a_thread(taken, on_stop_signal);
}

int caught_signal() { return last_signal; }

bool hangup_ignored() {
    static const bool ignored = [] {
        struct sigaction at_start {};
        check(::sigaction(SIGHUP, nullptr, &at_start), "sigaction SIGHUP");
        return at_start.sa_handler == SIG_IGN;
    }();
    return ignored;
}

sigset_t stop_signal_set() {
    return hangup_ignored() ? signal_set({SIGINT, SIGTERM}) : signal_set({SIGINT, SIGTERM, SIGHUP});
}

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
