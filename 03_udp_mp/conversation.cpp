// 03_udp_mp/conversation.cpp: the concurrent UDP server for extended conversations (UNP 22.7): on a
// client's opening datagram the parent forks a child; the child opens a NEW socket on an ephemeral port
// and carries on the whole exchange from there, while the parent goes back to the well-known port.
//
// Mirrors: the Network Programming lecture, slide "Concurrency in UDP for Extended Conversations"
// ("Concurrency UDP Servers"): "Create a new socket for each client, bind an ephemeral port to that socket,
// and use that socket for all its replies. The client looks at the port number of the server's first reply
// and sends subsequent datagrams to that port."
// Watch for: the first reply comes from another port than the one the client wrote to.
//
// UDP has no connection, so the parent decides alone what starts a conversation, and never blocks:
//  - only an opening of printable text starts one (empty, binary or garbled datagrams start nothing);
//  - a client's repeated opening (its retry, the reply was slow or lost) starts no second child: the
//    parent asks the child already talking with it to send its reply again (SIGUSR1);
//  - with --max-children conversations going on, a new client gets the reply `busy: ...` and its
//    client retries; the parent keeps reading, so the retry lands as soon as a conversation ends;
//  - a conversation ends when the client says `bye`, or after --idle-timeout seconds without a word from
//    it (a client that vanished would otherwise keep its child forever).
#include "models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>

namespace udp {

namespace {

constexpr int kSayAgain = SIGUSR1;  // parent to child: your client sent its opening again

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", seconds);
    return text;
}

// A conversation opens only with printable text (ASCII letters, digits, punctuation, spaces, tabs, line
// ends): what the client sends. Anything else is a stranger's noise and costs no process.
bool is_opening(std::string_view data) {
    return !data.empty() && std::all_of(data.begin(), data.end(), [](char c) {
        return (c >= ' ' && c <= '~') || c == '\t' || c == '\n' || c == '\r';
    });
}

// The body of a conversation child: everything after the opening happens on its own socket.
int converse(int well_known_fd, const Settings& settings, const Datagram& first, std::atomic<long>& served) {
    ::close(well_known_fd);  // the child's copy: the parent alone reads the well-known port
    SignalEvents signals{SIGINT, SIGTERM, SIGHUP, kSayAgain};
    const netutil::UniqueFd own = netutil::udp_bind(settings.bind_address, 0);
    netutil::set_nonblocking(own.get());
    const std::string client = first.from.to_string();
    const std::string name = std::to_string(::getpid()) + ": ";
    netutil::print_line(name + "talks with " + client + " from port " +
                        std::to_string(netutil::local_address(own.get()).port()));

    long datagrams = 0;
    const auto answer = [&](const std::string& message) {
        const std::string reply = reply_for(settings, message, first.from);
        if (send_reply(own.get(), reply, first.from)) {
            ++datagrams;
            served.fetch_add(1);
            netutil::print_line(name + "Sent to client: " + printable(reply));
        }
        return reply;
    };
    const std::string first_reply = answer(first.data);
    bool heard_back = false;  // the client has written to this port: it got the first reply
    using Clock = std::chrono::steady_clock;
    const auto idle = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(settings.idle_seconds));
    auto idle_deadline = Clock::now() + idle;  // only the client's datagrams move it, never a stranger's
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(idle_deadline - Clock::now());
        if (left.count() <= 0) {
            netutil::print_line(name + "no word from " + client + " for " + seconds_text(settings.idle_seconds) +
                                " s: the conversation ends after " + netutil::count(datagrams, "datagram"));
            return 0;
        }
        const Event event = wait_event(own.get(), signals, static_cast<int>(left.count()));
        if (event == Event::TimedOut) continue;
        if (event == Event::Signal) {
            const std::vector<int> taken = signals.take();
            if (std::all_of(taken.begin(), taken.end(), [](int signo) { return signo == kSayAgain; })) {
                // Its first reply is slow or lost; once the client has written here, it had it.
                if (!heard_back && send_reply(own.get(), first_reply, first.from))
                    netutil::print_line(name + client + " sent its opening again: the first reply sent again");
                continue;
            }
            netutil::print_line(name + "stopped: the conversation with " + client + " ends after " +
                                netutil::count(datagrams, "datagram"));
            return 0;
        }
        const std::optional<Datagram> datagram = receive(own.get());
        if (!datagram) continue;
        if (datagram->from.to_string() != client) {  // the port is open to anyone: only our client counts
            netutil::print_line(name + "ignored a datagram from " + datagram->from.to_string() + " (not its client)");
            continue;
        }
        heard_back = true;
        netutil::print_line(name + "Received message '" + printable(datagram->data) + "'");
        if (datagram->data == kGoodbye) {
            send_reply(own.get(), kGoodbye, first.from);
            netutil::print_line(name + client + " said bye: the conversation ends after " +
                                netutil::count(datagrams, "datagram"));
            return 0;
        }
        if (datagram->data.empty()) {
            netutil::print_line(name + "An empty datagram: no reply");
            continue;
        }
        answer(datagram->data);
        idle_deadline = Clock::now() + idle;  // counted from the reply: --delay-ms is not the client's silence
    }
}

}  // namespace

int run_conversation(int socket_fd, const Settings& settings) {
    SignalEvents signals{SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    // Blocked before any fork: a child told to say it again before it listens keeps the signal pending.
    netutil::block_signals(netutil::signal_set({kSayAgain}));
    SharedCounters served(1);
    const std::string busy_reply = kBusy + std::to_string(settings.max_children) + " conversations going on, try again";
    Children children(settings.max_children, std::to_string(settings.max_children) +
                                                 " conversations going on (--max-children): new clients are told "
                                                 "busy until one ends, and their retries get through then");
    std::map<std::string, pid_t> talking;  // client address -> the child talking with it
    long conversations = 0;
    long busy = 0;
    long ignored = 0;
    // Each child that ends takes its client off the list of those talking.
    const auto forget_the_reaped = [&] {
        for (auto it = talking.begin(); it != talking.end();) {
            if (children.pids().count(it->second) != 0) {
                ++it;
                continue;
            }
            netutil::print_line("conversation with " + it->first + " over (child " + std::to_string(it->second) +
                                " reaped): " + std::to_string(children.running()) + " going on");
            it = talking.erase(it);
        }
    };
    // The parent always reads, even when full: a stranger's datagrams never fill a queue ahead of a client.
    const auto serve = [&](const Datagram& datagram, bool full) {
        const std::string client = datagram.from.to_string();
        const std::string message = "Received message '" + printable(datagram.data) + "' at " + client;
        if (datagram.data.empty()) {
            netutil::print_line("An empty datagram: no reply, no conversation (from " + client + ")");
            ++ignored;
            return;
        }
        if (!is_opening(datagram.data)) {
            netutil::print_line("Ignored '" + printable(datagram.data) + "' from " + client +
                                ": not printable text, no conversation");
            ++ignored;
            return;
        }
        if (const auto known = talking.find(client); known != talking.end()) {
            netutil::print_line(message + " again: " + std::to_string(known->second) +
                                " talks with it, asked to send its reply again");
            ::kill(known->second, kSayAgain);
            return;
        }
        if (full) {
            netutil::print_line(message + ": busy, " + netutil::count(children.running(), "conversation") +
                                " going on");
            send_reply(socket_fd, busy_reply, datagram.from);
            ++busy;
            return;
        }
        netutil::print_line(message + ": a new conversation");
        const pid_t pid = fork_for_datagram(children, [&] {
            signals.close();
            return converse(socket_fd, settings, datagram, served[0]);
        });
        if (pid == 0) return;
        talking[client] = pid;
        ++conversations;
    };
    const int stopped_by = parent_loop(socket_fd, signals, children, false, serve, forget_the_reaped);
    netutil::print_line("stopping: ending " + netutil::count(children.running(), "conversation"));
    reap_all(children.pids(), signals, settings.grace_seconds, true);
    netutil::print_line("server stopped by " + netutil::signal_name(stopped_by) + ": " +
                        netutil::count(conversations, "conversation") + ", " +
                        netutil::count(served[0].load(), "datagram") + " answered in them, every child reaped" +
                        (busy > 0 ? ", " + netutil::count(busy, "busy reply", "busy replies") : "") +
                        (ignored > 0 ? ", " + netutil::count(ignored, "datagram") + " ignored (no opening)" : "") +
                        children.limit_note());
    return 0;
}

}  // namespace udp
