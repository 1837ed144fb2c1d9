// 07_epoll/client.cpp: the echo client: type lines and see them come back, or load the server with N
// active connections exchanging K messages while M idle connections stay open (`--idle M`), every byte
// of every echo checked. 06_sigio builds this same file as its client, with its own default port.
//
// Mirrors the lecture "Network Programming" (Stevens UNP ch. 26/30, Kerrisk TLPI ch. 63), slide "Single
// Process Servers" and the poll/select/epoll table: one active descriptor among N idle ones is how that table
// was measured.
// Usage:
//   ./client [HOST] [PORT]                              interactive: `Give message : `, prints `echo: ...`
//   ./client --message hello                            one line, its echo, done
//   ./client --connections 100 --messages 1000 --size 64 [--idle 10000] [--server-pid PID|auto]
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
#include <filesystem>
#include <fstream>
#include <ifaddrs.h>
#include <netinet/in.h>
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
    bool find_server_pid = false;  // --server-pid auto
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
netutil::UniqueFd connect_to(std::vector<netutil::SockAddr>& addresses, const std::string& where,
                             double timeout_seconds) {
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
    if (schedstat >> nanoseconds)
        cpu.on_cpu_seconds = double(nanoseconds) / 1e9;
    else
        cpu.on_cpu_seconds = cpu.ticks.total_seconds();
    return cpu;
}

// `--server-pid auto`: the process that owns the socket listening on PORT, found as `ss -ltnp` does it:
// the socket's inode from /proc/net/tcp and tcp6 (state 0A is LISTEN), then the process with a descriptor
// `socket:[INODE]` in /proc/PID/fd (only our own processes can be looked at). Only for a server on this
// machine: `connection` (one of ours to it) must end at one of this machine's addresses.
bool is_address_of_this_machine(const netutil::SockAddr& address) {
    const std::string host = address.host();  // an IPv4-mapped address as plain IPv4
    if (host.starts_with("127.") || host == "::1") return true;
    ifaddrs* addresses = nullptr;
    netutil::check(::getifaddrs(&addresses), "getifaddrs");
    bool found = false;
    for (const ifaddrs* entry = addresses; entry != nullptr && !found; entry = entry->ifa_next) {
        if (entry->ifa_addr == nullptr) continue;
        const int family = entry->ifa_addr->sa_family;
        if (family != AF_INET && family != AF_INET6) continue;
        netutil::SockAddr candidate;
        const size_t size = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
        std::memcpy(&candidate.storage, entry->ifa_addr, size);
        found = candidate.host() == host;
    }
    ::freeifaddrs(addresses);
    return found;
}

int find_server_pid(int connection, uint16_t port) {
    const netutil::SockAddr peer = netutil::peer_address(connection);
    if (!is_address_of_this_machine(peer))
        throw std::runtime_error("--server-pid auto: the server at " + peer.to_string() +
                                 " is not on this machine (give its pid, or measure on its machine)");
    std::vector<std::string> inodes;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream lines(table);
        std::string line;
        std::getline(lines, line);  // the header
        while (std::getline(lines, line)) {
            std::istringstream fields(line);
            std::string slot, local_address, remote_address, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local_address >> remote_address >> state >> queues >> timer >> retransmits >> uid;
            fields >> timeout >> inode;
            const size_t colon = local_address.rfind(':');
            if (state != "0A" || colon == std::string::npos) continue;  // 0A: LISTEN
            if (std::stoul(local_address.substr(colon + 1), nullptr, 16) == port)
                inodes.push_back("socket:[" + inode + "]");
        }
    }
    std::vector<int> owners;
    std::error_code error;
    for (const auto& process : std::filesystem::directory_iterator("/proc", error)) {
        const std::string name = process.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        for (const auto& fd : std::filesystem::directory_iterator(process.path() / "fd", error)) {
            const std::string target = std::filesystem::read_symlink(fd.path(), error).string();
            if (std::find(inodes.begin(), inodes.end(), target) != inodes.end()) {
                owners.push_back(std::stoi(name));
                break;
            }
        }
    }
    const std::string where = " on port " + std::to_string(port) + " (give the server's pid)";
    if (owners.empty()) throw std::runtime_error("--server-pid auto: no process of yours listens" + where);
    if (owners.size() > 1)
        throw std::runtime_error("--server-pid auto: " + std::to_string(owners.size()) + " processes listen" + where);
    return owners.front();
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
            throw std::runtime_error("idle connection " + std::to_string(i) + ": no echo within " +
                                     fixed(load.timeout_seconds, 0) + " s");
        if (netutil::read_some(idle[i].get(), &byte, 1) != 1 || byte != 'i')
            throw std::runtime_error("idle connection " + std::to_string(i) + " was closed by the server");
    }
    if (load.idle > 0)
        netutil::print_line("holding " + std::to_string(load.idle) + " idle connections (each echoed one byte)");

    std::vector<Active> active(size_t(load.connections));
    for (auto& connection : active) {
        connection.fd = connect_to(addresses, where, load.timeout_seconds);
        netutil::set_nonblocking(connection.fd.get());
    }
    const int server_pid = load.find_server_pid ? find_server_pid(active.front().fd.get(), port) : load.server_pid;
    if (load.find_server_pid)
        netutil::print_line("server pid " + std::to_string(server_pid) + " (the process listening on port " +
                            std::to_string(port) + ")");
    const auto cpu_before = server_pid ? cpu_of(server_pid) : std::nullopt;
    const netutil::Stopwatch clock;

    std::vector<char> buffer(64 * 1024);
    std::vector<pollfd> entries(active.size());
    size_t running = active.size();
    while (running > 0) {
        for (size_t i = 0; i < active.size(); ++i) {
            const Active& connection = active[i];
            entries[i].fd = connection.finished ? -1 : connection.fd.get();
            entries[i].events = short(
                POLLIN | (connection.message < load.messages && connection.sent < size_t(load.size) ? POLLOUT : 0));
            entries[i].revents = 0;
        }
        const int ready = ::poll(entries.data(), entries.size(), timeout_ms);
        if (ready == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("poll");
        }
        if (ready == 0)
            throw std::runtime_error("no echo within " + fixed(load.timeout_seconds, 0) + " s (" +
                                     netutil::count(running, "connection") + " still waiting)");
        for (size_t i = 0; i < active.size(); ++i) {
            Active& connection = active[i];
            const int c = static_cast<int>(i);
            if (entries[i].revents & POLLOUT) {
                const size_t chunk = std::min(buffer.size(), size_t(load.size) - connection.sent);
                for (size_t k = 0; k < chunk; ++k) buffer[k] = pattern(c, connection.message, connection.sent + k);
                const ssize_t n = ::send(connection.fd.get(), buffer.data(), chunk, MSG_NOSIGNAL);
                if (n == -1 && errno != EAGAIN && errno != EINTR)
                    netutil::throw_errno("connection " + std::to_string(i) + ": send");
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
                                             std::to_string(connection.message + 1) + ", byte " +
                                             std::to_string(connection.received));
                connection.finished = true;  // the server's EOF after ours: a clean end
                connection.fd.reset();
                --running;
                continue;
            }
            if (connection.message >= load.messages || connection.received + size_t(n) > connection.sent)
                throw std::runtime_error("connection " + std::to_string(i) +
                                         ": the server sent bytes that were never sent to it");
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
                    netutil::check(::shutdown(connection.fd.get(), SHUT_WR),
                                   "shutdown");  // done: the server closes too
            }
        }
    }
    const double seconds = clock.seconds();
    const auto cpu_after = server_pid ? cpu_of(server_pid) : std::nullopt;
    const double total = double(load.connections) * double(load.messages);
    netutil::print_line(netutil::count(load.connections, "connection") + " x " +
                        netutil::count(load.messages, "message") + " of " + netutil::count(load.size, "byte") +
                        " echoed and verified in " + fixed(seconds, 3) + " s: " + fixed(total / seconds, 0) +
                        " messages/s");
    if (cpu_before && cpu_after) {
        const netutil::CpuTime used{cpu_after->ticks.user_seconds - cpu_before->ticks.user_seconds,
                                    cpu_after->ticks.system_seconds - cpu_before->ticks.system_seconds};
        const double on_cpu = cpu_after->on_cpu_seconds - cpu_before->on_cpu_seconds;
        netutil::print_line("server CPU for those messages: " + netutil::format_cpu_time(used) + " (10 ms ticks); " +
                            fixed(on_cpu, 4) + " s on CPU = " + fixed(on_cpu * 100000.0 / total, 3) +
                            " s per 100000 messages");
    } else if (server_pid) {
        netutil::print_error(netutil::program_name() + ": cannot read /proc/" + std::to_string(server_pid) + "/stat");
    }
    return 0;
}

// Interactive or --message: one connection, a line out, its echo back.
int run_lines(const std::string& host, uint16_t port, const std::optional<std::string>& message,
              double timeout_seconds) {
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

struct Settings {
    std::string host = "localhost";
    int port = kDefaultPort;
    std::optional<std::string> message;
    bool load_mode = false;  // any load option given
    Load load;
};

Settings parse_settings(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        const auto port = static_cast<uint16_t>(settings.port);
        if (settings.load_mode) return run_load(settings.host, port, settings.load);
        return run_lines(settings.host, port, settings.message, settings.load.timeout_seconds);
    });
}

namespace {

// HOST, PORT, and either --message or the load options.
Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "Echo client of the single process servers (labs 06 and 07). Without load options: sends each\n"
        "line typed (or --message) and prints its echo. With them: N active connections send K messages\n"
        "of S bytes each (one at a time, waiting for the whole echo and checking every byte) while M idle\n"
        "connections stay open; it prints the messages per second (and the server's CPU time with\n"
        "--server-pid)."};
    Settings settings;
    Load& load = settings.load;
    app.add_option("HOST", settings.host, "server to connect to")->capture_default_str();
    app.add_option("PORT", settings.port, "server port")->capture_default_str()->check(netutil::kPortRange);
    app.add_option("-m,--message", settings.message,
                   "send this one line, print its echo and exit (no prompt);\n"
                   "a line, typed or given, may be up to 1 MiB");
    auto* connections = app.add_option("-c,--connections", load.connections, "load: active connections N, 1 to 100000")
                            ->capture_default_str()
                            ->check(netutil::whole_number(1, 100000).description(""));
    auto* messages = app.add_option("-k,--messages", load.messages, "load: messages K per active connection, 1 to 10^9")
                         ->capture_default_str()
                         ->check(netutil::whole_number(1, 1000000000).description(""));
    auto* size = app.add_option("-s,--size", load.size, "load: bytes S per message, 1 to 1 GiB (1073741824)")
                     ->capture_default_str()
                     ->check(netutil::whole_number(1, 1L << 30).description(""));
    auto* idle = app.add_option("--idle", load.idle,
                                "load: idle connections M held open, 0 to 1000000 (each first\n"
                                "echoes one byte, then stays silent)")
                     ->capture_default_str()
                     ->check(netutil::whole_number(0, 1000000).description(""));
    std::string server_pid;
    auto* pid = app.add_option("--server-pid", server_pid,
                               "load: also print the CPU time this process (the server)\n"
                               "used during the active messages, from /proc, per 100000\n"
                               "messages; `auto`: the process listening on PORT, for a server\n"
                               "on this machine")
                    ->type_name("PID|auto")
                    ->check(CLI::Validator(
                        [](std::string& value) -> std::string {
                            const bool digits = !value.empty() && value.size() <= 9 &&
                                                value.find_first_not_of("0123456789") == value.npos;
                            if (value == "auto" || (digits && std::stol(value) > 0)) return "";
                            return "'" + value + "' is not a process id or auto";
                        },
                        ""));
    app.add_option("--timeout", load.timeout_seconds,
                   "seconds (0.1 to 3600) to wait for a connection or an echo before giving up")
        ->capture_default_str()
        ->check(netutil::real_number(0.1, 3600.0).description(""));
    netutil::parse_or_exit(app, argc, argv);
    settings.load_mode = connections->count() + messages->count() + size->count() + idle->count() + pid->count() > 0;
    if (settings.load_mode && settings.message)
        netutil::usage_error("--message cannot be combined with the load options");
    load.find_server_pid = server_pid == "auto";
    if (!server_pid.empty() && !load.find_server_pid) load.server_pid = std::stoi(server_pid);
    return settings;
}

}  // namespace
