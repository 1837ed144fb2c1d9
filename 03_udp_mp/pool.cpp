// 03_udp_mp/pool.cpp: a pool of N pre-forked worker processes sharing the one UDP socket; each worker
// reads datagrams and answers them itself, naming its pid, so the spread over the pool is visible.
//
// Mirrors: the lecture "Client-server architecture model: with sockets and multiprocessing in Python", slides "Pool
// class" and "Asynchronous multiprocessing server" (number_processes = 4). The lecture's parent reads each datagram
// and hands it to the pool; here, as in UNP's preforked servers, the workers read the shared socket directly, so no
// datagram is copied between processes. The parent only watches: a worker that dies, at any moment, is reaped and
// replaced, and the pool serves on.
// Watch for: every worker wakes when a datagram arrives (they all poll the same socket); the socket is
// non-blocking, so those that lose the race get EAGAIN and go back to waiting.
#include "models.hpp"

#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/text.hpp"

#include <csignal>
#include <map>
#include <system_error>

namespace udp {

namespace {

// The body of a worker process: serve datagrams until SIGINT, SIGTERM or SIGHUP.
int worker_loop(int index, int socket_fd, const Settings& settings, std::atomic<long>& served) {
    SignalEvents signals{SIGINT, SIGTERM, SIGHUP};
    const std::string name = "worker " + std::to_string(index) + ": ";
    for (;;) {
        if (wait_event(socket_fd, signals) == Event::Signal) return 0;
        const std::optional<Datagram> datagram = receive(socket_fd);
        if (!datagram) continue;  // another worker took it
        netutil::print_line(name + "Received message '" + printable(datagram->data) + "' at " +
                            datagram->from.to_string());
        if (datagram->data.empty()) {
            netutil::print_line(name + "An empty datagram: no reply");
            continue;
        }
        const std::string reply = reply_for(settings, datagram->data, datagram->from);
        if (send_reply(socket_fd, reply, datagram->from)) {
            served.fetch_add(1);
            netutil::print_line(name + "Sent to client: " + printable(reply));
        }
    }
}

}  // namespace

int run_pool(int socket_fd, const Settings& settings) {
    SignalEvents signals{SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    SharedCounters served(static_cast<size_t>(settings.workers));
    std::map<pid_t, int> workers;  // pid -> worker number

    const auto start_worker = [&](int index) {
        try {
            const pid_t pid = fork_child([&] {
                signals.close();  // the worker takes its own signals (still blocked, inherited)
                return worker_loop(index, socket_fd, settings, served[static_cast<size_t>(index)]);
            });
            workers[pid] = index;
            netutil::print_line("worker " + std::to_string(index) + " is process " + std::to_string(pid));
        } catch (const std::system_error& error) {
            netutil::print_line("worker " + std::to_string(index) + ": fork failed: " + error.code().message() +
                                " (the pool serves on with one worker less)");
        }
    };
    netutil::print_line("starting a pool of " + std::to_string(settings.workers) + " worker processes");
    for (int i = 0; i < settings.workers; ++i) start_worker(i);

    int stopped_by = 0;
    while (stopped_by == 0) {
        wait_event(-1, signals);
        for (int signo : signals.take())
            if (signo != SIGCHLD) stopped_by = signo;
        for (const auto& done : netutil::reap_children()) {
            const auto found = workers.find(done.pid);
            if (found == workers.end()) continue;
            const int index = found->second;
            workers.erase(found);
            if (stopped_by != 0) continue;  // stopping: no replacement
            netutil::print_line("worker " + std::to_string(index) + " (process " + std::to_string(done.pid) +
                                ") ended, " + netutil::describe_status(done.status) + ": starting a new one");
            start_worker(index);
        }
    }

    netutil::print_line("stopping: waiting for " + netutil::count(workers.size(), "worker"));
    std::set<pid_t> pids;
    for (const auto& [pid, index] : workers) pids.insert(pid);
    reap_all(pids, signals, settings.grace_seconds, true);

    long total = 0;
    std::string per_worker;
    for (size_t i = 0; i < served.size(); ++i) {
        const long count = served[i].load();
        total += count;
        per_worker += (i == 0 ? "" : ", ") + std::to_string(i) + ": " + std::to_string(count);
    }
    netutil::print_line("server stopped by " + netutil::signal_name(stopped_by) + ": the pool served " +
                        netutil::count(total, "datagram") + " (per worker " + per_worker + "), every worker reaped");
    return 0;
}

}  // namespace udp
