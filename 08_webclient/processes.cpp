// 08_webclient/processes.cpp: the modes with processes: a child per connection (the handout's `-c process`)
// and N pre-forked workers that each accept and serve (`-c process-pool`).
//
// The parent never starts a thread, so forking is safe (also under ThreadSanitizer). Ctrl-C reaches the
// children too (the terminal signals the whole group), and even a SIGTERM sent to the parent alone reaches
// them: the stop pipe was created before the forks, so every process watches the same pipe. The children
// finish what they have; the parent waits for them (grace period plus a margin, then SIGKILL) and reaps
// every one.
#include "models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/text.hpp"

#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <poll.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace web {

namespace {

constexpr int kReapIntervalMs = 100;  // the parent looks for finished children this often

// [[maybe_unused]]: the two helpers below serve the process modes only, which the student handout leaves out
// (ASSIGNMENTS.md); there they are the helpers the student may use.

// Waits for the listener (true) or the stop pipe (false), at most kReapIntervalMs; `timed_out` tells which.
[[maybe_unused]] bool wait_listener_or_stop(int listen_fd, int stop_fd, bool watch_listener, bool& timed_out) {
    pollfd fds[2] = {{stop_fd, POLLIN, 0}, {watch_listener ? listen_fd : -1, POLLIN, 0}};
    const int n = ::poll(fds, 2, kReapIntervalMs);
    if (n == -1 && errno != EINTR) netutil::throw_errno("poll");
    timed_out = n <= 0;
    return !(n > 0 && (fds[0].revents & POLLIN));
}

// After Ctrl-C: give the children the grace period (and a second more) to finish, then kill what is left;
// reap them all.
[[maybe_unused]] void wait_for_children(std::map<pid_t, int>& children, const Settings& settings) {
    const auto deadline = Clock::now() + std::chrono::seconds(settings.grace_s + 1);
    while (!children.empty() && Clock::now() < deadline) {
        for (const auto& exit : netutil::reap_children()) children.erase(exit.pid);
        if (!children.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (const auto& [pid, slot] : children) {
        netutil::print_error("server: child " + std::to_string(pid) + " did not finish in the grace period: killed");
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    children.clear();
}

}  // namespace

// A child per connection: the parent accepts, forks, closes its copy of the connection, and goes back to
// accept; the child closes its copy of the listener, serves, and exits.
void run_process_per_connection(int listen_fd, const Settings& settings, const netutil::StopPipe& stop) {
    // BEGIN SOLUTION 08.1 "a process per connection, reaped"
    std::map<pid_t, int> children;
    Acceptor acceptor;
    bool said_full = false;
    for (;;) {
        for (const auto& exit : netutil::reap_children()) children.erase(exit.pid);
        const bool full = static_cast<int>(children.size()) >= settings.max_clients;
        if (full && !said_full) {
            netutil::print_line("server: " + netutil::count(settings.max_clients, "client") +
                                " connected (--max-clients): new clients wait in the backlog");
            said_full = true;
        }
        bool timed_out = false;
        if (!wait_listener_or_stop(listen_fd, stop.fd(), !full, timed_out)) break;
        if (timed_out || full) continue;
        netutil::SockAddr peer;
        netutil::UniqueFd client = acceptor.accept(listen_fd, &peer);
        if (!client) continue;
        const ConnectionInfo connection{++shared_stats().connections, peer.to_string()};
        const pid_t pid = ::fork();
        if (pid == -1) {
            netutil::print_error(std::string("server: fork: ") + std::strerror(errno) + " (client dropped)");
            continue;
        }
        if (pid == 0) {
            ::close(listen_fd);
            int status = 0;
            try {
                serve_connection(std::move(client), connection, Worker{0, "pid " + std::to_string(::getpid())},
                                 settings, stop.fd());
            } catch (const std::exception& error) {
                netutil::print_error("server: connection " + std::to_string(connection.id) + ": " + error.what());
                status = 1;
            }
            ::_exit(status);  // not exit(): the parent's objects (and its summary) are not the child's to finish
        }
        children.emplace(pid, 0);
    }
    wait_for_children(children, settings);
    // END SOLUTION
    // BEGIN STUB
    // // TODO (assignment 1, -c process): accept clients on `listen_fd` and serve each in a child process of its
    // // own (fork; the child serves the connection with serve_connection and ends with _exit). The parent closes
    // // its copy of the connection, reaps every child that ends (no zombies), and once `stop` is readable
    // // (Ctrl-C) stops accepting, waits for the children to finish (wait_for_children) and reaps them all.
    // (void)listen_fd;
    // (void)settings;
    // (void)stop;
    // netutil::not_implemented("08.1");
    // END STUB
}

// N workers forked at the start, each accepting on the shared listening socket (non-blocking: when several
// wake for one client, the others find nothing and wait again) and serving one connection at a time.
// A worker that dies is replaced, so the pool serves on.
void run_process_pool(int listen_fd, const Settings& settings, const netutil::StopPipe& stop) {
    // BEGIN SOLUTION 08.2 "a process pool"
    std::map<pid_t, int> children;  // pid -> slot
    const auto start_worker = [&](int slot) {
        const pid_t pid = ::fork();
        if (pid == -1) netutil::throw_errno("fork");
        if (pid != 0) {
            children.emplace(pid, slot);
            return;
        }
        int status = 0;
        try {
            const Worker worker{slot, "worker " + std::to_string(slot) + " (pid " + std::to_string(::getpid()) + ")"};
            Acceptor acceptor;
            for (;;) {
                bool timed_out = false;
                if (!wait_listener_or_stop(listen_fd, stop.fd(), true, timed_out)) break;
                if (timed_out) continue;
                netutil::SockAddr peer;
                netutil::UniqueFd client = acceptor.accept(listen_fd, &peer);
                if (!client) continue;
                const ConnectionInfo connection{++shared_stats().connections, peer.to_string()};
                try {
                    serve_connection(std::move(client), connection, worker, settings, stop.fd());
                } catch (const std::exception& error) {
                    netutil::print_error("server: connection " + std::to_string(connection.id) + ": " + error.what());
                }
            }
        } catch (const std::exception& error) {
            netutil::print_error(std::string("server: worker ") + std::to_string(slot) + ": " + error.what());
            status = 1;
        }
        ::_exit(status);
    };
    for (int slot = 0; slot < settings.processes; ++slot) start_worker(slot);

    for (;;) {
        pollfd stop_pfd{stop.fd(), POLLIN, 0};
        const int n = ::poll(&stop_pfd, 1, kReapIntervalMs);
        if (n == -1 && errno != EINTR) netutil::throw_errno("poll");
        if (n > 0 && (stop_pfd.revents & POLLIN)) break;
        for (const auto& exit : netutil::reap_children()) {
            const auto it = children.find(exit.pid);
            if (it == children.end()) continue;
            const int slot = it->second;
            children.erase(it);
            if (stop.stop_requested()) continue;
            netutil::print_line("server: worker " + std::to_string(slot) + " (pid " + std::to_string(exit.pid) + ") " +
                                netutil::describe_status(exit.status) + ", starting a new one");
            start_worker(slot);
        }
    }
    wait_for_children(children, settings);
    // END SOLUTION
    // BEGIN STUB
    // // TODO (extra credit, -c process-pool): settings.processes worker processes forked once, each accepting
    // // and serving one connection at a time; a worker that dies is replaced; Ctrl-C: every worker finishes
    // // its connection, and the parent reaps them all.
    // (void)listen_fd;
    // (void)settings;
    // (void)stop;
    // netutil::not_implemented("08.2");
    // END STUB
}

}  // namespace web
