// 04_prefork/models.hpp: the server models of lab 04, and what their parents and children share.
//
// Every model runs in one process (the parent) that owns the listening socket; all but `iterative` fork
// children. The parent never starts a thread: it waits for SIGINT, SIGTERM, SIGHUP and SIGCHLD on a
// signalfd, so a signal is an ordinary event in its poll loop, and forking from it is always safe.
#pragma once

#include "04_prefork/options.hpp"
#include "04_prefork/protocol.hpp"
#include "netutil/fd.hpp"
#include "netutil/signals.hpp"

#include <csignal>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace prefork {

enum class Model { Iterative, Fork, NoLock, Flock, Mutex, Pass, Hybrid };
inline const byte_count::ModeNames<Model> kModels = {
    {"iterative", Model::Iterative}, {"fork", Model::Fork}, {"nolock", Model::NoLock}, {"flock", Model::Flock},
    {"mutex", Model::Mutex},         {"pass", Model::Pass}, {"hybrid", Model::Hybrid}};
inline std::string model_name(Model model) { return byte_count::mode_name(kModels, model); }
std::string model_description(Model model);

// The command line (server.cpp's parse_settings): what lab 05 shares (options.hpp), and this lab's own.
// How nolock's idle children wait for a connection: in accept() itself, or in poll() then accept().
enum class Wait { Accept, Poll };

struct Settings : byte_count::ServerSettings {
    Model model = Model::NoLock;
    int nchildren = 5;
    int threads = 4;           // hybrid model: threads in each child
    double grace_s = 5;        // on Ctrl-C, how long busy children may take to finish
    Wait wait = Wait::Accept;  // nolock: how an idle child waits for a connection (--wait)
};

// The parent's signals: SIGINT, SIGTERM and SIGHUP (stop; SIGHUP stays ignored under nohup) and SIGCHLD
// (a child ended) are blocked and read from a signalfd. Owns the signalfd.
class ParentSignals {
public:
    ParentSignals();
    int fd() const { return fd_.get(); }
    struct Pending {
        int stop_signal = 0;  // SIGINT, SIGTERM or SIGHUP if one came
        bool child_ended = false;
    };
    Pending read();  // every signal pending now (never blocks)
    void close_in_child() { fd_.reset(); }

private:
    netutil::UniqueFd fd_;
};

// Everything a model's parent has: the listening socket, its signals, the stop pipe (the parent's means of
// stopping busy children: every child watches it while it serves a connection, and the parent writes it
// once when it stops), the settings.
struct Server {
    netutil::UniqueFd listener;
    ParentSignals signals;
    netutil::StopPipe stop;
    Settings settings;
    // Closes, in a freshly forked child, what only the parent needs: its signals, and the stop pipe's write
    // end, so that the pipe reads as closed (a stop) once the parent is gone, even killed outright.
    void close_parent_only() {
        signals.close_in_child();
        stop.close_write_end();
    }
};

// Forks a child that runs `body` and exits (0, or 1 if body throws). In the child, before `body`: SIGINT is
// ignored (Ctrl-C at a terminal reaches the whole group, and the parent stops the children itself),
// SIGTERM and SIGHUP end the child at once while it waits for work and after its current connection
// otherwise, and the child is sent SIGTERM if the parent dies. The child never returns from this function.
pid_t fork_child(const std::function<void()>& body);

// In a child: call begin_waiting() before blocking for a new connection (poll, accept, a lock, recvmsg) and
// end_waiting() when it has one. A SIGTERM while every thread of the child waits ends it at once: nothing
// is lost. A child of several threads first says how many (set_busy_threads) before starting them.
void begin_waiting();
void end_waiting();
void set_busy_threads(int count);
// A SIGTERM while waiting calls `hook` (async-signal-safe work only) just before the child exits.
void call_before_exit_while_waiting(void (*hook)());
bool stop_requested();  // a SIGTERM came while busy: finish this connection, then exit

// Stops the children: tells busy ones through the stop pipe, idle ones with SIGTERM, reaps them all, and
// SIGKILLs those still running after the grace period. `on_reaped` sees every child reaped.
void stop_children(Server& server, std::vector<pid_t> pids, const std::function<void(pid_t, int)>& on_reaped = {});

// Serves one connection of the byte-count protocol, logging anything unusual under `who`. Returns true if
// the server is stopping (the stop pipe was seen).
bool serve(int fd, const Server& server, int stop_fd, const std::string& who, const netutil::SockAddr* peer = nullptr);

// The summary is byte_count::print_summary (protocol.hpp), printed once, by the parent, after every child
// is reaped, with the CPU time of the parent and all its children.
inline const std::string kCpuNote = "the server and all its children";

// The models. Each returns when stopped, after printing the summary.
void run_iterative(Server& server);
void run_fork_per_client(Server& server);
void run_preforked(Server& server);  // nolock, flock, mutex, hybrid
void run_descriptor_passing(Server& server);

}  // namespace prefork
