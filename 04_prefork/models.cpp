// 04_prefork/models.cpp: what the parents and children of every model share (see models.hpp).
#include "04_prefork/models.hpp"
#include "04_prefork/protocol.hpp"

#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace prefork {

std::string model_description(Model model) {
    switch (model) {
        case Model::Iterative: return "one process serves one client at a time";
        case Model::Fork: return "one child forked per client";
        case Model::NoLock: return "preforked children call accept() with no lock";
        case Model::Flock: return "preforked children call accept() under an fcntl() record lock";
        case Model::Mutex: return "preforked children call accept() under a process-shared pthread mutex";
        case Model::Pass: return "the parent accepts and passes each descriptor to an idle child";
        case Model::Hybrid:
            return "preforked children of several threads call accept() under an fcntl() lock (between children) "
                   "and a mutex (between a child's threads)";
    }
    return "?";
}

// ------------------------------------------------------------------------------------------------ parent

ParentSignals::ParentSignals() {
    // Default dispositions first: a signal that is ignored (as SIGINT is for a background job of a script)
    // would be discarded rather than queued for the signalfd, and an ignored SIGCHLD would reap by itself.
    // SIGHUP follows netutil's rule (a stop, unless started under nohup), in the parent and every child.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (const int signo : {SIGINT, SIGTERM, SIGCHLD}) netutil::check(::sigaction(signo, &dfl, nullptr), "sigaction");
    if (!netutil::hangup_ignored()) netutil::check(::sigaction(SIGHUP, &dfl, nullptr), "sigaction SIGHUP");
    sigset_t set = netutil::stop_signal_set();
    ::sigaddset(&set, SIGCHLD);
    netutil::block_signals(set);
    fd_ = netutil::make_signalfd(set);
}

ParentSignals::Pending ParentSignals::read() {
    Pending pending;
    signalfd_siginfo info{};
    for (;;) {
        const ssize_t n = ::read(fd_.get(), &info, sizeof info);
        if (n == -1 && errno == EINTR) continue;
        if (n != static_cast<ssize_t>(sizeof info)) break;  // EAGAIN: nothing more pending
        if (info.ssi_signo == SIGCHLD)
            pending.child_ended = true;
        else
            pending.stop_signal = static_cast<int>(info.ssi_signo);
    }
    return pending;
}

// ------------------------------------------------------------------------------------------------ child

namespace {

// How many of this child's threads are busy (not waiting for work): 1 or 0 in a one-threaded child, up to
// --threads in a hybrid one. Lock-free atomics, so the signal handler may use them, whichever thread it
// interrupts; sequentially consistent, so a SIGTERM and the last thread starting to wait cannot miss
// each other (the handler sets the flag before it reads the count, a thread counts down before it reads
// the flag: one of the two sees the other).
std::atomic<int> busy_threads{1};
std::atomic<int> child_stop{0};  // SIGTERM (or SIGHUP) came while a thread was busy
static_assert(std::atomic<int>::is_always_lock_free, "the SIGTERM handler uses these atomics");

// SIGTERM and SIGHUP. Async-signal-safe: _exit() and lock-free atomics only. Exiting while every thread
// waits loses nothing (the count of a connection is taken after it is accepted); a held fcntl lock is
// released by the kernel, a held robust mutex is recovered by the next child to lock it.
void (*before_exit_while_waiting)() = nullptr;

extern "C" void on_child_sigterm(int) {
    child_stop = 1;
    if (busy_threads == 0) {
        if (before_exit_while_waiting != nullptr) before_exit_while_waiting();
        ::_exit(0);
    }
}

pid_t parent_of_this_child = -1;

// A fresh child's signals. They stay blocked (as inherited) until the handlers are in place.
void become_child() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    netutil::check(::sigaction(SIGINT, &ignore, nullptr), "sigaction SIGINT");
    struct sigaction term {};
    term.sa_handler = on_child_sigterm;
    ::sigemptyset(&term.sa_mask);
    netutil::check(::sigaction(SIGTERM, &term, nullptr), "sigaction SIGTERM");
    // SIGHUP: the terminal closed, and the whole foreground group gets it: a child stops as on SIGTERM
    // (at once while idle, after its connection while busy); the parent stops and reaps the rest.
    if (!netutil::hangup_ignored()) netutil::check(::sigaction(SIGHUP, &term, nullptr), "sigaction SIGHUP");
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    netutil::check(::sigaction(SIGCHLD, &dfl, nullptr), "sigaction SIGCHLD");
    // An orphan would serve on forever: end it with its parent (and at once if that is already gone).
    netutil::check(::prctl(PR_SET_PDEATHSIG, SIGTERM), "prctl PR_SET_PDEATHSIG");
    if (::getppid() != parent_of_this_child) ::_exit(0);
    sigset_t none;
    ::sigemptyset(&none);
    netutil::check(::sigprocmask(SIG_SETMASK, &none, nullptr), "sigprocmask");
}

}  // namespace

void set_busy_threads(int count) { busy_threads = count; }

void call_before_exit_while_waiting(void (*hook)()) { before_exit_while_waiting = hook; }

void begin_waiting() {
    // A SIGTERM that came while this was the last busy thread: the flag is set, so it is seen here.
    if (--busy_threads == 0 && child_stop != 0) ::_exit(0);
}

void end_waiting() { ++busy_threads; }

bool stop_requested() { return child_stop != 0; }

pid_t fork_child(const std::function<void()>& body) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == -1) netutil::throw_errno("fork");
    if (pid > 0) return pid;

    // The child: never returns into the parent's code, also when something fails here.
    int status = 0;
    try {
        parent_of_this_child = parent;
        become_child();
        body();
    } catch (const std::exception& error) {
        netutil::print_error(netutil::program_name() + ": child " + std::to_string(::getpid()) + ": " + error.what());
        status = 1;
    }
    ::_exit(status);  // no destructors of the parent's objects
}

// ------------------------------------------------------------------------------------------------ stopping

void stop_children(Server& server, std::vector<pid_t> pids, const std::function<void(pid_t, int)>& on_reaped) {
    server.stop.request_stop();
    for (const pid_t pid : pids) ::kill(pid, SIGTERM);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(server.settings.grace_s * 1000));
    bool killed = false;
    while (!pids.empty()) {
        for (const auto& done : netutil::reap_children()) {
            std::erase(pids, done.pid);
            if (on_reaped) on_reaped(done.pid, done.status);
        }
        if (pids.empty()) break;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 && !killed) {
            netutil::print_line("grace period over: killing " +
                                netutil::count(pids.size(), "busy child", "busy children"));
            for (const pid_t pid : pids) ::kill(pid, SIGKILL);
            killed = true;
        }
        pollfd pfd{server.signals.fd(), POLLIN, 0};
        const int wait_ms = killed ? 100 : static_cast<int>(std::max<long>(1, std::min<long>(left.count(), 100)));
        if (::poll(&pfd, 1, wait_ms) == -1 && errno != EINTR) netutil::throw_errno("poll");
        server.signals.read();  // SIGCHLD (and any further Ctrl-C) consumed; the reaping above does the work
    }
}

// ------------------------------------------------------------------------------------------------ serving

bool serve(int fd, const Server& server, int stop_fd, const std::string& who, const netutil::SockAddr* peer) {
    return byte_count::serve_and_log(fd, {.stop_fd = stop_fd, .idle_timeout_ms = server.settings.idle_timeout_ms()},
                                     who, peer);
}

}  // namespace prefork
