// 03_udp_mp/client.cpp: the UDP client, alone or as K client processes at once.
//
// Mirrors: the lecture "Client-server architecture model: with sockets and multiprocessing in Python", slides
// "Client in Python" (its printed lines) and "Multiple client processes" (--processes K, each saying `Hi from PID at
// HOST:PORT`). UDP loses datagrams and nothing tells the sender, so every request has a reply timeout and is sent
// again a few times before the client gives up with an error. The client sends each datagram to where the last reply
// came from: against the conversation server (UNP 22.7) the first reply comes from a new port, and the rest of the
// conversation goes there, ending with `bye`. When the conversation's port is closed (its child was killed: the
// kernel says so through a connected socket), the request goes back to the well-known port, for a new conversation.
// A conversation server with every child busy answers `busy: ...`: the client waits out that try's timeout and sends
// again, as for a lost datagram.
// Usage: ./client [HOST] [PORT] [MESSAGE] [--processes K] [--count N] [--timeout SECONDS] [--retries R]
// See also: server.cpp.
#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/socket.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <netdb.h>
#include <optional>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace {

constexpr uint16_t kDefaultPort = 10001;  // the lecture's server_port
constexpr size_t kMaxDatagram = 65507;
constexpr char kGoodbye[] = "bye";
constexpr std::string_view kBusy = "busy: ";  // the conversation server's "every child is busy, try again"

struct Settings {
    std::string host = "localhost";
    uint16_t port = kDefaultPort;
    std::optional<std::string> message;
    int processes = 1;
    long count = 1;
    double timeout_seconds = 1;
    int retries = 3;
};
Settings parse_settings(int argc, char** argv);

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", seconds);
    return text;
}

// The server's address. UDP cannot try one address and fall back as TCP's connect does (a datagram to the
// wrong one just vanishes), so where a name has both families IPv4 is taken: 127.0.0.1 reaches a server on
// its default dual-stack address (::) and one bound to 0.0.0.0 alike, where ::1 reaches only the first.
netutil::SockAddr resolve_server(const std::string& host, uint16_t port) {
    const std::vector<netutil::SockAddr> found = netutil::resolve_all(host, port, SOCK_DGRAM);
    for (const netutil::SockAddr& address : found)
        if (address.family() == AF_INET) return address;
    return found.front();
}

// One client: its socket, the address it talks to, and what it prints.
class UdpClient {
public:
    UdpClient(const Settings& settings, const netutil::SockAddr& server, std::string prefix)
        : settings_(settings),
          server_(server),
          peer_(server),
          socket_(netutil::udp_socket(server)),
          prefix_(std::move(prefix)) {}

    void say(const std::string& line) const { netutil::print_line(prefix_ + line); }

    // Sends `text` and returns the reply, sending again after each timeout, `retries` times at most.
    // In a conversation whose port turns out closed (its child is gone), the request goes to the server's
    // well-known port again, for a new conversation, unless `may_restart` is false: then std::nullopt.
    std::optional<std::string> ask(const std::string& text, bool may_restart = true) {
        const auto timeout = std::chrono::milliseconds(static_cast<long>(settings_.timeout_seconds * 1000));
        bool restarted = false;
        for (int attempt = 0; attempt <= settings_.retries; ++attempt) {
            if (port_closed_) {
                if (!may_restart) return std::nullopt;
                restart_conversation();
                restarted = true;
            }
            if (::sendto(socket_.get(), text.data(), text.size(), 0, peer_.get(), peer_.length) == -1) {
                if (errno != ECONNREFUSED) netutil::throw_errno("sendto " + peer_.to_string());
                port_closed_ = true;  // an ICMP error from an earlier datagram: try again at once
                --attempt;
                continue;
            }
            if (attempt == 0) {
                say("Sent to server: " + text);
                say("Waiting for response...");
            } else if (busy_) {
                say("The server was busy: sent again (retry " + std::to_string(attempt) + " of " +
                    std::to_string(settings_.retries) + ")");
            } else if (restarted) {
                say("Sent again to " + server_.to_string() + ", for a new conversation (retry " +
                    std::to_string(attempt) + " of " + std::to_string(settings_.retries) + ")");
            } else {
                say("No reply within " + seconds_text(settings_.timeout_seconds) + " s: sent again (retry " +
                    std::to_string(attempt) + " of " + std::to_string(settings_.retries) + ")");
            }
            restarted = false;
            busy_ = false;
            const auto deadline = std::chrono::steady_clock::now() + timeout;
            if (std::optional<std::string> reply = receive_until(deadline)) return reply;
        }
        if (busy_)
            netutil::throw_error(EBUSY, peer_.to_string() + " still busy after " +
                                            std::to_string(settings_.retries + 1) + " tries, " +
                                            seconds_text(settings_.timeout_seconds) + " s each");
        netutil::throw_error(
            ETIMEDOUT, "no reply from " + peer_.to_string() + " after " + std::to_string(settings_.retries + 1) +
                           " tries, " + seconds_text(settings_.timeout_seconds) + " s each (is the server running?)");
    }

    // The whole exchange: `count` requests, then `bye` if the server moved the conversation to a new port.
    void run(const std::string& message) {
        for (long i = 0; i < settings_.count; ++i) say("Received message from server: " + *ask(message));
        if (moved_) {
            saying_bye_ = true;
            const std::optional<std::string> answer = ask(kGoodbye, false);
            if (!answer)
                say("The conversation's port is closed: nobody to say bye to");
            else
                say(*answer == kGoodbye ? "The server said bye" : "Received message from server: " + *answer);
        }
        socket_.reset();
        say("Socket closed");
    }

private:
    // The next reply before `deadline`. Until the first reply, any port of the server's host may answer
    // (the conversation server answers from a new one); after that, only the address that answered.
    // A conversation's socket is connected to the child's port, so that the kernel reports an ICMP "port
    // unreachable" as ECONNREFUSED (UNP 8.11): then the child is gone (port_closed_), not merely slow.
    std::optional<std::string> receive_until(std::chrono::steady_clock::time_point deadline) {
        std::vector<char> buffer(kMaxDatagram + 1);
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            if (netutil::wait_readable(socket_.get(), -1, static_cast<int>(left.count())) == netutil::Wait::TimedOut)
                return std::nullopt;
            netutil::SockAddr from;
            const ssize_t n =
                ::recvfrom(socket_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT, from.get(), &from.length);
            if (n == -1 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
            if (n == -1 && errno == ECONNREFUSED && moved_) {
                say("The conversation's port " + std::to_string(peer_.port()) + " is closed: its child is gone");
                port_closed_ = true;
                return std::nullopt;
            }
            if (n == -1) netutil::throw_errno("recvfrom");
            const bool from_peer = from.to_string() == peer_.to_string();
            if (!from_peer && (answered_ || from.host() != server_.host())) {
                say("Ignored a datagram from " + from.to_string());
                continue;
            }
            const std::string reply(buffer.data(), static_cast<size_t>(n));
            if (from_peer && !moved_ && reply.starts_with(kBusy)) {
                say("The server is busy: " + reply.substr(kBusy.size()));
                busy_ = true;
                continue;  // this try is over: wait out its timeout before sending again
            }
            if (!from_peer) {
                say("The server answers from port " + std::to_string(from.port()) + ": the conversation goes on there");
                peer_ = from;
                moved_ = true;
                if (::connect(socket_.get(), peer_.get(), peer_.length) == -1)
                    netutil::throw_errno("connect " + peer_.to_string());
            }
            if (saying_bye_ && reply != kGoodbye) {
                // A late copy of an earlier reply (the server sent it again for a retry): not the answer to bye.
                say("Ignored a late reply: " + reply);
                continue;
            }
            answered_ = true;
            return reply;
        }
    }

    // Back to the well-known port: the socket is disconnected (AF_UNSPEC), any port of the server may answer.
    void restart_conversation() {
        sockaddr unspecified{};
        unspecified.sa_family = AF_UNSPEC;
        ::connect(socket_.get(), &unspecified, sizeof unspecified);
        peer_ = server_;
        answered_ = false;
        moved_ = false;
        port_closed_ = false;
    }

    const Settings& settings_;
    netutil::SockAddr server_;  // the well-known address we first write to
    netutil::SockAddr peer_;    // where the next datagram goes: the server, or the port its reply came from
    netutil::UniqueFd socket_;
    std::string prefix_;
    bool answered_ = false;
    bool moved_ = false;
    bool port_closed_ = false;  // the conversation's port answered with ICMP port unreachable
    bool busy_ = false;         // the last try was answered `busy: ...`
    bool saying_bye_ = false;   // only `bye` answers `bye`
};

int run_one(const Settings& settings, const netutil::SockAddr& server, const std::string& prefix) {
    return netutil::run_main([&] {
        const std::string message =
            settings.message.value_or("Hi from " + std::to_string(::getpid()) + " at " + server.to_string());
        UdpClient client(settings, server, prefix);
        client.run(message);
        return 0;
    });
}

// One client process of --processes; a failed fork throws.
pid_t start_client_process(const Settings& settings, const netutil::SockAddr& server) {
    const pid_t pid = ::fork();
    if (pid == -1) netutil::throw_errno("fork");
    if (pid == 0) ::_exit(run_one(settings, server, std::to_string(::getpid()) + ": "));
    return pid;
}

// The lecture's "multiple client processes": K children, each a whole client; the parent waits for all.
// A fork that fails ends the starting (the clients already started still run); it counts as a failure.
int run_processes(const Settings& settings, const netutil::SockAddr& server) {
    std::vector<pid_t> children;
    try {
        for (int k = 0; k < settings.processes; ++k) children.push_back(start_client_process(settings, server));
    } catch (const std::system_error& error) {
        netutil::print_error(netutil::program_name() + ": " + error.what());
    }
    int succeeded = 0;
    for (const pid_t pid : children) {
        int status = 0;
        while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {}
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++succeeded;
    }
    netutil::print_line(std::to_string(succeeded) + " of " + std::to_string(settings.processes) +
                        " client processes got their replies");
    return succeeded == settings.processes ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);
    netutil::SockAddr server;
    const int resolved = netutil::run_main([&] {
        server = resolve_server(settings.host, settings.port);
        return 0;
    });
    if (resolved != 0) return resolved;
    if (settings.processes == 1) return run_one(settings, server, "");
    return run_processes(settings, server);
}

namespace {

Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "UDP client of the client-server lecture: sends MESSAGE, prints the reply. With --processes K,\n"
        "K client processes do so at once. A lost datagram is sent again after --timeout, --retries times.\n"
        "MESSAGE holds at most 65507 bytes (one UDP datagram). Exits 0 when every process got its replies."};
    Settings settings;
    int port = kDefaultPort;
    app.add_option("HOST", settings.host, "server to send to")->capture_default_str();
    app.add_option("PORT", port, "server port")->capture_default_str()->check(netutil::kPortRange);
    app.add_option("MESSAGE", settings.message,
                   "what to send (default: `Hi from PID at ADDRESS:PORT`)\n"
                   "(with the server's --square: a number)");
    app.add_option("-p,--processes", settings.processes, "client processes sending at once")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 1000));
    app.add_option("-n,--count", settings.count,
                   "requests per process, one after another\n"
                   "(conversation mode: all on the conversation's port)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 1000000));
    app.add_option("--timeout", settings.timeout_seconds, "seconds to wait for a reply before sending again")
        ->capture_default_str()
        ->check(netutil::real_number(0.01, 600.0));
    app.add_option("--retries", settings.retries,
                   "times a request is sent again before giving up\n"
                   "(a conversation whose port closed starts again at the server's port)")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 100));
    netutil::parse_or_exit(app, argc, argv);
    settings.port = static_cast<uint16_t>(port);
    if (settings.message && settings.message->empty())
        netutil::usage_error("MESSAGE must not be empty (the servers do not answer an empty datagram)");
    if (settings.message && settings.message->size() > kMaxDatagram)
        netutil::usage_error("MESSAGE is longer than " + std::to_string(kMaxDatagram) +
                             " bytes, the most one UDP datagram holds");
    return settings;
}

}  // namespace
