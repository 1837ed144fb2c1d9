// 03_udp_mp/fork_per_datagram.cpp: a child process per datagram (UNP 22.7's first kind of concurrent UDP
// server): the parent only reads; each child sends the reply, with its own pid in it, and exits.
//
// Mirrors: the lecture "Client-server architecture model: with sockets and multiprocessing in Python", the exercise
// "A client process sends a hello message ... the server spawns a process that sends back a hello message with its
// own process ID" (Multiprocessing server). The slide's parent calls p.join() right after p.start(), so it serves
// one datagram at a time after all; here the parent goes straight back to recvfrom and reaps children as SIGCHLD
// reports them, so no child is ever left a zombie. The cost: a fork per datagram, far more than the work of the
// reply (the lecture: "the added cost of process creation dominates the added efficiency gained from concurrency").
#include "models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/text.hpp"

#include <csignal>

namespace udp {

int run_fork_per_datagram(int socket_fd, const Settings& settings) {
    SignalEvents signals{SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    SharedCounters served(1);
    Children children(settings.max_children, netutil::count(settings.max_children, "child", "children") +
                                                 " running (--max-children): waiting for one to finish, "
                                                 "datagrams wait in the socket's buffer");
    long forked = 0;
    // At the limit, the parent stops reading: datagrams wait in the socket's buffer (or are dropped when it is
    // full, and the clients retry) until a child exits.
    const int stopped_by = parent_loop(socket_fd, signals, children, true, [&](const Datagram& datagram, bool) {
        netutil::print_line("Received message '" + printable(datagram.data) + "' at " + datagram.from.to_string());
        if (datagram.data.empty()) return netutil::print_line("An empty datagram: no reply");
        // BEGIN SOLUTION 03.1 "a process per request, answering with its own PID"
        const pid_t pid = fork_for_datagram(children, [&] {
            signals.close();
            const std::string reply = reply_for(settings, datagram.data, datagram.from);
            if (!send_reply(socket_fd, reply, datagram.from)) return 1;
            served[0].fetch_add(1);
            netutil::print_line("Sent to client: " + printable(reply));
            return 0;
        });
        if (pid != 0) ++forked;
        // END SOLUTION
        // BEGIN STUB
        // // TODO (exercise 1): answer `datagram` from a new process (fork_for_datagram), whose reply names
        // // that process's own PID (reply_for does), counting it in `served[0]` and `forked`. The parent goes
        // // straight back to reading: it must not wait for the child here (parent_loop reaps every child).
        // netutil::not_implemented("03.1");
        // END STUB
    });
    // The children still running are answering a datagram the parent received: they finish it first.
    netutil::print_line("stopping: waiting for " + netutil::count(children.running(), "child", "children"));
    reap_all(children.pids(), signals, settings.grace_seconds, false);
    netutil::print_line("server stopped by " + netutil::signal_name(stopped_by) + ": served " +
                        netutil::count(served[0].load(), "datagram") + ", one child process each (" +
                        netutil::count(forked, "child", "children") + ", all reaped" + children.limit_note() + ")");
    return 0;
}

}  // namespace udp
