// 07_epoll/client.cpp: the echo client: type lines and see them come back, or load the server with N
// active connections exchanging K messages while M idle connections stay open (`--idle M`), every byte
// of every echo checked. 06_sigio builds this same file as its client, with its own default port.
//
// Mirrors: seeds/04_lecture_network_programming_server_design.txt, "Single Process Servers" and the
// poll/select/epoll table: one active descriptor among N idle ones is how that table was measured.
// Usage:
//   ./client [HOST] [PORT]                              interactive: `Give message : `, prints `echo: ...`
//   ./client --message hello                            one line, its echo, done
//   ./client --connections 100 --messages 1000 --size 64 [--idle 10000] [--server-pid PID]
// See also: server.cpp; bench/07_epoll.sh, which drives this client.
#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

#ifndef ECHO_DEFAULT_PORT
#define ECHO_DEFAULT_PORT 9879  // 07_epoll's; 06_sigio's Makefile sets 9878
#endif
constexpr int kDefaultPort = ECHO_DEFAULT_PORT;

struct Load {
    int connections = 1;
    long messages = 1;
    long size = 64;
    int idle = 0;
    int server_pid = 0;
    double timeout_seconds = 10;
};

// The byte at `offset` of message `message` on connection `connection`: every echo can be checked
// without keeping a copy of what was sent.
char pattern(int connection, long message, size_t offset) {
    return static_cast<char>('a' + (offset * 7 + size_t(connection) * 13 + size_t(message) * 31) % 26);
}

// Enough descriptors for M + N connections: raises the soft limit up to the hard one, or says why not.
void ensure_descriptors(size_t needed) {
    rlimit limit{};
    netutil::check(::getrlimit(RLIMIT_NOFILE, &limit), "getrlimit RLIMIT_NOFILE");
    if (limit.rlim_cur >= needed) return;
    if (limit.rlim_max < needed)
        throw std::runtime_error(std::to_string(needed) + " descriptors are needed, the hard limit is " +
                                 std::to_string(limit.rlim_max) + " (ulimit -Hn)");
    limit.rlim_cur = needed;
    netutil::check(::setrlimit(RLIMIT_NOFILE, &limit), "setrlimit RLIMIT_NOFILE");
}

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

// One connection to HOST's addresses, resolved once (resolving 10,000 times would measure the resolver).
// Each is tried in turn until one answers (`localhost` may be ::1 first while the server listens on IPv4
// only), and the one that answered goes first for the next connection. A server whose backlog is full drops
// the SYN and the kernel would retry for minutes: each attempt is bounded, so the client never waits forever.
netutil::UniqueFd connect_to(std::vector<netutil::SockAddr>& addresses, const std::string& where, double timeout_seconds) {
    const auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
    size_t used = 0;
    netutil::UniqueFd fd = netutil::tcp_connect(addresses, where, timeout, &used);
    std::rotate(addresses.begin(), addresses.begin() + long(used), addresses.begin() + long(used) + 1);
    return fd;
}

// CPU time of another process (the server): user and system from /proc/PID/stat (in clock ticks, 10 ms),
// and the exact time on CPU from /proc/PID/schedstat (nanoseconds; the main thread, which is the whole
// of a single-threaded server).
struct ProcessCpu {
    netutil::CpuTime ticks;
    double on_cpu_seconds = 0;
};
std::optional<ProcessCpu> cpu_of(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return std::nullopt;
    std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "pid (name) "
    std::string field;
    unsigned long user = 0, system = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) user = std::stoul(field);
        if (i == 15) system = std::stoul(field);
    }
    const double tick = double(::sysconf(_SC_CLK_TCK));
    ProcessCpu cpu{{double(user) / tick, double(system) / tick}, 0};
    std::ifstream schedstat("/proc/" + std::to_string(pid) + "/schedstat");
    unsigned long long nanoseconds = 0;
    if (schedstat >> nanoseconds) cpu.on_cpu_seconds = double(nanoseconds) / 1e9;
    else cpu.on_cpu_seconds = cpu.ticks.total_seconds();
    return cpu;
}

// One active connection: sends a message, reads the whole echo back (checking it), then the next one.
struct Active {
    netutil::UniqueFd fd;
    long message = 0;     // index of the message in flight
    size_t sent = 0;      // bytes of it sent
    size_t received = 0;  // bytes of its echo received
    bool finished = false;
};

int run_load(const std::string& host, uint16_t port, const Load& load) {
    ensure_descriptors(size_t(load.idle) + size_t(load.connections) + 16);
    std::vector<netutil::SockAddr> addresses = netutil::resolve_all(host, port);
    const std::string where = netutil::join_host_port(host, port);
    const int timeout_ms = static_cast<int>(load.timeout_seconds * 1000);

    // M idle connections, each proven served by a one-byte echo, then left silent.
    std::vector<netutil::UniqueFd> idle;
    idle.reserve(size_t(load.idle));
    for (int i = 0; i < load.idle; ++i) idle.push_back(connect_to(addresses, where, load.timeout_seconds));
    for (auto& fd : idle) netutil::write_all(fd.get(), "i", 1);
    for (size_t i = 0; i < idle.size(); ++i) {
        char byte = 0;
        if (netutil::wait_readable(idle[i].get(), -1, timeout_ms) != netutil::Wait::Ready)
            throw std::runtime_error("idle connection " + std::to_string(i) + ": no echo within " + fixed(load.timeout_seconds, 0) + " s");
        if (netutil::read_some(idle[i].get(), &byte, 1) != 1 || byte != 'i')
            throw std::runtime_error("idle connection " + std::to_string(i) + " was closed by the server");
    }
    if (load.idle > 0) netutil::print_line("holding " + std::to_string(load.idle) + " idle connections (each echoed one byte)");

    std::vector<Active> active(size_t(load.connections));
    for (auto& connection : active) {
        connection.fd = connect_to(addresses, where, load.timeout_seconds);
        netutil::set_nonblocking(connection.fd.get());
    }
    const auto cpu_before = load.server_pid ? cpu_of(load.server_pid) : std::nullopt;
    const netutil::Stopwatch clock;

    std::vector<char> buffer(64 * 1024);
    std::vector<pollfd> entries(active.size());
    size_t running = active.size();
    while (running > 0) {
        for (size_t i = 0; i < active.size(); ++i) {
            const Active& connection = active[i];
            entries[i].fd = connection.finished ? -1 : connection.fd.get();
            entries[i].events = short(POLLIN | (connection.message < load.messages && connection.sent < size_t(load.size) ? POLLOUT : 0));
            entries[i].revents = 0;
        }
        const int ready = ::poll(entries.data(), entries.size(), timeout_ms);
        if (ready == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("poll");
        }
        if (ready == 0)
            throw std::runtime_error("no echo within " + fixed(load.timeout_seconds, 0) + " s (" + netutil::count(running, "connection") +
                                     " still waiting)");
        for (size_t i = 0; i < active.size(); ++i) {
            Active& connection = active[i];
            const int c = static_cast<int>(i);
            if (entries[i].revents & POLLOUT) {
                const size_t chunk = std::min(buffer.size(), size_t(load.size) - connection.sent);
                for (size_t k = 0; k < chunk; ++k) buffer[k] = pattern(c, connection.message, connection.sent + k);
                const ssize_t n = ::send(connection.fd.get(), buffer.data(), chunk, MSG_NOSIGNAL);
                if (n == -1 && errno != EAGAIN && errno != EINTR) netutil::throw_errno("connection " + std::to_string(i) + ": send");
                if (n > 0) connection.sent += size_t(n);
            }
            if (!(entries[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const ssize_t n = ::recv(connection.fd.get(), buffer.data(), buffer.size(), 0);
            if (n == -1) {
                if (errno == EAGAIN || errno == EINTR) continue;
                netutil::throw_errno("connection " + std::to_string(i) + ": recv");
            }
            if (n == 0) {
                if (connection.message < load.messages)
                    throw std::runtime_error("connection " + std::to_string(i) + " closed by the server at message " +
                                             std::to_string(connection.message + 1) + ", byte " + std::to_string(connection.received));
                connection.finished = true;  // the server's EOF after ours: a clean end
                connection.fd.reset();
                --running;
                continue;
            }
            if (connection.message >= load.messages || connection.received + size_t(n) > connection.sent)
                throw std::runtime_error("connection " + std::to_string(i) + ": the server sent bytes that were never sent to it");
            for (ssize_t k = 0; k < n; ++k) {
                if (buffer[size_t(k)] != pattern(c, connection.message, connection.received + size_t(k)))
                    throw std::runtime_error("connection " + std::to_string(i) + ": echo differs at byte " +
                                             std::to_string(connection.received + size_t(k)) + " of message " +
                                             std::to_string(connection.message + 1));
            }
            connection.received += size_t(n);
            if (connection.received == size_t(load.size)) {
                connection.sent = connection.received = 0;
                if (++connection.message == load.messages)
                    netutil::check(::shutdown(connection.fd.get(), SHUT_WR), "shutdown");  // done: the server closes too
            }
        }
    }
    const double seconds = clock.seconds();
    const auto cpu_after = load.server_pid ? cpu_of(load.server_pid) : std::nullopt;
    const double total = double(load.connections) * double(load.messages);
    netutil::print_line(netutil::count(load.connections, "connection") + " x " + netutil::count(load.messages, "message") + " of " +
                        netutil::count(load.size, "byte") + " echoed and verified in " + fixed(seconds, 3) + " s: " +
                        fixed(total / seconds, 0) + " messages/s");
    if (cpu_before && cpu_after) {
        const netutil::CpuTime used{cpu_after->ticks.user_seconds - cpu_before->ticks.user_seconds,
                                    cpu_after->ticks.system_seconds - cpu_before->ticks.system_seconds};
        const double on_cpu = cpu_after->on_cpu_seconds - cpu_before->on_cpu_seconds;
        netutil::print_line("server CPU for those messages: " + netutil::format_cpu_time(used) + " (10 ms ticks); " +
                            fixed(on_cpu, 4) + " s on CPU = " + fixed(on_cpu * 100000.0 / total, 3) + " s per 100000 messages");
    } else if (load.server_pid) {
        netutil::print_error(netutil::program_name() + ": cannot read /proc/" + std::to_string(load.server_pid) + "/stat");
    }
    return 0;
}

// Interactive or --message: one connection, a line out, its echo back.
int run_lines(const std::string& host, uint16_t port, const std::optional<std::string>& message, double timeout_seconds) {
    const netutil::UniqueFd server = netutil::tcp_connect(host, port);
    netutil::print_line("client is connected");
    netutil::LineReader reader(server.get(), 1 << 20, -1, static_cast<int>(timeout_seconds * 1000));
    for (;;) {
        std::optional<std::string> line = message ? message : netutil::prompt_line("Give message : ");
        if (!line) break;  // end of input
        netutil::write_all(server.get(), *line + "\n");
        std::string echoed;
        switch (reader.read_line(echoed)) {
            case netutil::LineReader::Status::Line: netutil::print_line("echo: " + echoed); break;
            case netutil::LineReader::Status::TooLong:
                throw std::runtime_error("the echo is a line over 1 MiB, this client's limit for one line");
            case netutil::LineReader::Status::TimedOut:
                throw std::runtime_error("no echo within " + fixed(timeout_seconds, 0) + " s");
            default: throw std::runtime_error("the server closed the connection");
        }
        if (message) break;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Echo client of the single process servers (labs 06 and 07). Without load options: sends each\n"
                 "line typed (or --message) and prints its echo. With them: N active connections send K messages\n"
                 "of S bytes each (one at a time, waiting for the whole echo and checking every byte) while M idle\n"
                 "connections stay open; it prints the messages per second (and the server's CPU time with\n"
                 "--server-pid)."};
    std::string host = "localhost";
    int port = kDefaultPort;
    std::optional<std::string> message;
    Load load;
    app.add_option("HOST", host, "server to connect to")->capture_default_str();
    app.add_option("PORT", port, "server port")->capture_default_str()->check(netutil::kPortRange);
    app.add_option("-m,--message", message, "send this one line, print its echo and exit (no prompt);\n"
                   "a line, typed or given, may be up to 1 MiB");
    auto* connections = app.add_option("-c,--connections", load.connections, "load: active connections N, 1 to 100000")
        ->capture_default_str()->check(netutil::whole_number(1, 100000).description(""));
    auto* messages = app.add_option("-k,--messages", load.messages, "load: messages K per active connection, 1 to 10^9")
        ->capture_default_str()->check(netutil::whole_number(1, 1000000000).description(""));
    auto* size = app.add_option("-s,--size", load.size, "load: bytes S per message, 1 to 1 GiB (1073741824)")
        ->capture_default_str()->check(netutil::whole_number(1, 1L << 30).description(""));
    auto* idle = app.add_option("--idle", load.idle, "load: idle connections M held open, 0 to 1000000 (each first\n"
                                "echoes one byte, then stays silent)")
        ->capture_default_str()->check(netutil::whole_number(0, 1000000).description(""));
    auto* pid = app.add_option("--server-pid", load.server_pid, "load: also print the CPU time this process (the server)\n"
                               "used during the active messages, from /proc, per 100000 messages")->check(CLI::PositiveNumber);
    app.add_option("--timeout", load.timeout_seconds, "seconds (0.1 to 3600) to wait for a connection or an echo before giving up")
        ->capture_default_str()->check(netutil::real_number(0.1, 3600.0).description(""));
    netutil::parse_or_exit(app, argc, argv);
    const bool load_mode = connections->count() + messages->count() + size->count() + idle->count() + pid->count() > 0;
    if (load_mode && message) netutil::usage_error("--message cannot be combined with the load options");

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        if (load_mode) return run_load(host, static_cast<uint16_t>(port), load);
        return run_lines(host, static_cast<uint16_t>(port), message, load.timeout_seconds);
    });
}
