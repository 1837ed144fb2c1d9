// netutil/signals.hpp: signals handled the safe way.
//
// A signal handler may only do async-signal-safe work. The two designs used in the kit:
//  - StopPipe + stop_on_signals: the handler writes one byte into a pipe (write() is async-signal-safe);
//    every thread that polls the pipe's read end wakes up, and the pipe stays readable, so threads that
//    look later see it too.
//  - block_signals + make_signalfd: the signals are never delivered to a handler at all; the event loop
//    reads them from a descriptor, as ordinary events.
//
// The kit's rule for SIGHUP (the terminal closed, and the whole foreground group gets it): a graceful stop,
// like SIGTERM, unless the server was started under nohup, where SIGHUP is ignored and stays so (the server
// is meant to outlive its terminal). stop_on_signals follows it; a lab that installs its own handlers asks
// hangup_ignored() first, or takes stop_signal_set().
#pragma once

#include "netutil/fd.hpp"

#include <csignal>
#include <initializer_list>
#include <string>
#include <sys/types.h>
#include <vector>

namespace netutil {

// SIGPIPE would kill the process when a client vanishes mid-reply; ignored, the write fails with EPIPE.
void ignore_sigpipe();

// A pipe that, once told to stop, stays readable forever. Owns both ends.
// request_stop() is async-signal-safe and may be called from any thread or a signal handler.
class StopPipe {
public:
    StopPipe();
    ~StopPipe();  // also detaches stop_on_signals' handlers from this pipe
    StopPipe(const StopPipe&) = delete;
    StopPipe& operator=(const StopPipe&) = delete;
    void request_stop() const noexcept;
    bool stop_requested() const;                // polls, never blocks
    int fd() const { return read_end_.get(); }  // watch this for POLLIN (and POLLHUP, see below)
    // In a forked child that only watches the pipe: closes the child's copy of the write end. Once every
    // process holding one is gone (the parent died, even by SIGKILL) the read end reads as closed, which
    // poll() reports as POLLHUP: a stop too. The child must not call request_stop() afterwards.
    void close_write_end() { write_end_.reset(); }

private:
    friend void stop_on_signals(const StopPipe&, std::initializer_list<int>);
    UniqueFd read_end_;
    UniqueFd write_end_;
};

// Installs handlers for `signals` (by default SIGINT and SIGTERM) that only call stop.request_stop() and
// remember the signal number. `stop` must outlive the handlers (keep it in main). A SIGHUP that is ignored
// (nohup) stays ignored. In a ThreadSanitizer build only, the signals are also blocked and taken by a
// thread of their own (signal_thread.hpp says why): call it before starting threads.
void stop_on_signals(const StopPipe& stop, std::initializer_list<int> signals = {SIGINT, SIGTERM});
// The last signal stop_on_signals caught, 0 if none.
int caught_signal();

// True if SIGHUP was ignored when the program started (nohup). Asked once, before any handler is installed
// (the first call records the answer; stop_on_signals makes one).
bool hangup_ignored();
// The stop signals of the kit's rule: SIGINT, SIGTERM, and SIGHUP unless hangup_ignored().
sigset_t stop_signal_set();

sigset_t signal_set(std::initializer_list<int> signals);
// Blocks the signals in the calling thread and in every thread it creates afterwards.
void block_signals(const sigset_t& signals);
// A signalfd for the (blocked) signals, to watch in a poll/epoll loop.
UniqueFd make_signalfd(const sigset_t& signals);

// One finished child, as waitpid() reports it.
struct ChildExit {
    pid_t pid;
    int status;
};
// Reaps every child that has finished, without blocking. Safe to call at any time.
std::vector<ChildExit> reap_children();
// "SIGINT" for SIGINT.
std::string signal_name(int signo);
// A waitpid() status as text: "exit 0", "killed by SIGKILL".
std::string describe_status(int status);

}  // namespace netutil
