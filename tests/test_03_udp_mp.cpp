// Tests of 03_udp_mp: concurrent UDP servers with processes, and the client with K processes.
//
// Slides: the lecture "Client-server architecture model: with sockets and multiprocessing in Python" (slides
// "Server in Python", "Client in Python", "Multiprocessing server", "Multiple client processes", "Pool
// class", the square exercise) and the lecture "Network Programming", slides "Concurrency UDP Servers" and
// "Concurrency in UDP for Extended Conversations" (UNP 22.7).
// Suites: Lab03/Modes (the same checks over every --mode), then each mode's own: Lab03UdpIterative,
// Lab03UdpFork, Lab03UdpPool, Lab03UdpConversation; Lab03UdpClient (the client, --processes) and
// Lab03UdpServer (ports, IPv6, usage errors, --help). Faults of the pool and the conversations are here too
// (see test_faults_workers.cpp's map).
// Demo: ./server 10001 --mode fork   and   ./client localhost 10001 --processes 3
// Watch for: who answers (the pid in the reply: a new child each time, one of the pool, one child per
// conversation), the conversation's new port, no zombie ever, Ctrl-C to the group ending every process
// with one summary from the parent.
// The harness's Connection is TCP; the small Udp class below is the test's own UDP endpoint.
#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <regex>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

using namespace harness;

namespace {

const std::string kServer = program("03_udp_mp", "server");
const std::string kClient = program("03_udp_mp", "client");

// A UDP socket on 127.0.0.1, for what the real client does not show: the reply's source port, raw bytes,
// empty datagrams, silence.
class Udp {
public:
    Udp() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in address = loopback(0);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
            throw std::system_error(errno, std::generic_category(), "udp socket");
    }
    ~Udp() { ::close(fd_); }
    Udp(const Udp&) = delete;
    Udp& operator=(const Udp&) = delete;

    uint16_t port() const {
        sockaddr_in address{};
        socklen_t length = sizeof address;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
        return ntohs(address.sin_port);
    }

    void send_to(uint16_t port, std::string_view data) const {
        const sockaddr_in address = loopback(port);
        const ssize_t n =
            ::sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&address), sizeof address);
        ASSERT_EQ(n, static_cast<ssize_t>(data.size())) << std::strerror(errno);
    }

    struct Reply {
        std::string data;
        uint16_t from_port;
    };
    // The next datagram, or std::nullopt after `timeout` (scaled).
    std::optional<Reply> receive(Duration timeout = 5s) const {
        pollfd pfd{fd_, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(scaled(timeout).count())) != 1) return std::nullopt;
        std::string buffer(70000, '\0');
        sockaddr_in from{};
        socklen_t length = sizeof from;
        const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &length);
        if (n < 0) return std::nullopt;
        buffer.resize(static_cast<size_t>(n));
        return Reply{buffer, ntohs(from.sin_port)};
    }

    // Sends and returns the reply (sending again once if the first is lost: UDP).
    std::optional<Reply> ask(uint16_t port, std::string_view data) const {
        for (int attempt = 0; attempt < 3; ++attempt) {
            send_to(port, data);
            if (auto reply = receive(2s)) return reply;
        }
        return std::nullopt;
    }

private:
    static sockaddr_in loopback(uint16_t port) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return address;
    }
    int fd_ = -1;
};

// The pid in "Hi 127.0.0.1:PORT. This is server PID", checking the address is the asker's; -1 if not.
pid_t pid_in(const std::string& reply, uint16_t asker_port) {
    std::smatch m;
    if (!std::regex_match(reply, m, std::regex("Hi 127\\.0\\.0\\.1:(\\d+)\\. This is server (\\d+)"))) return -1;
    if (std::stoi(m[1]) != asker_port) return -1;
    return static_cast<pid_t>(std::stol(m[2]));
}

// Waits until the server has no zombie child (children are reaped as SIGCHLD reports them).
bool no_zombies(const Process& server, Duration timeout = 5s) {
    return wait_until([&] { return server.zombie_children().empty(); }, timeout);
}

// Waits until exactly `count` stdout lines match (the server's output is read as it comes).
bool wait_count(const Process& server, const std::regex& pattern, size_t count, Duration timeout = 5s) {
    wait_until([&] { return server.count_matching(pattern) >= count; }, timeout);
    return server.count_matching(pattern) == count;
}

// The pool's pids, from its "worker I is process PID" lines.
std::set<pid_t> pool_pids(Process& server, int workers) {
    std::set<pid_t> pids;
    for (int i = 0; i < workers; ++i) {
        const auto line = server.wait_for_match(std::regex("worker " + std::to_string(i) + " is process (\\d+)"));
        if (line) pids.insert(static_cast<pid_t>(std::stol(line->substr(line->rfind(' ') + 1))));
    }
    return pids;
}

struct Mode {
    std::string name;
    std::vector<std::string> options;
};
void PrintTo(const Mode& mode, std::ostream* out) { *out << mode.name; }

class Modes : public testing::TestWithParam<Mode> {
protected:
    std::vector<std::string> server_args(std::vector<std::string> more = {}) const {
        std::vector<std::string> args{kServer, "0"};
        args.insert(args.end(), GetParam().options.begin(), GetParam().options.end());
        args.insert(args.end(), more.begin(), more.end());
        return args;
    }
    bool is(const std::string& name) const { return GetParam().name == name; }
};

}  // namespace

// ------------------------------------------------------------------------------ every mode, same checks

// The real client against each mode: one request, the reply printed as on the slide.
TEST_P(Modes, TheClientPrintsTheReply) {
    Process server(server_args());
    const uint16_t port = server.wait_for_listening();
    const Result client = run({kClient, "localhost", std::to_string(port), "Hi server!"});
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_NE(client.out.find("Sent to server: Hi server!\nWaiting for response...\n"), std::string::npos)
        << client.out;
    const std::regex received(is("iterative")
                                  ? "Received message from server: Hi client! Nice to connect with you!"
                                  : "Received message from server: Hi 127\\.0\\.0\\.1:\\d+\\. This is server \\d+");
    size_t found = 0;
    for (const auto& line : lines(client.out)) found += std::regex_match(line, received) ? 1 : 0;
    EXPECT_EQ(found, 1u) << client.out;
    EXPECT_EQ(lines(client.out).back(), "Socket closed");
}

// The reply names who answered: never the parent in the concurrent modes.
TEST_P(Modes, RepliesComeFromTheRightKindOfProcess) {
    Process server(server_args());
    const uint16_t port = server.wait_for_listening();
    std::set<pid_t> pool;
    if (is("pool")) pool = pool_pids(server, 4);
    std::set<pid_t> answered;
    for (int i = 0; i < 6; ++i) {
        Udp asker;
        const auto reply = asker.ask(port, "hello " + std::to_string(i));
        ASSERT_TRUE(reply) << "request " << i;
        if (is("iterative")) {
            EXPECT_EQ(reply->data, "Hi client! Nice to connect with you!");
            EXPECT_EQ(reply->from_port, port);
            continue;
        }
        const pid_t pid = pid_in(reply->data, asker.port());
        ASSERT_GT(pid, 0) << reply->data;
        EXPECT_NE(pid, server.pid()) << "a child answers, not the parent";
        answered.insert(pid);
        if (is("pool")) {
            EXPECT_EQ(pool.count(pid), 1u) << pid << " is not one of the pool's workers";
        }
        if (is("conversation")) {
            EXPECT_NE(reply->from_port, port) << "the conversation goes on from a new port";
        } else {
            EXPECT_EQ(reply->from_port, port);
        }
    }
    if (is("fork") || is("conversation")) {
        EXPECT_EQ(answered.size(), 6u) << "a new child for every datagram/client";
    }
    if (is("pool")) {
        EXPECT_EQ(pool.size(), 4u);
        if (exact_thread_counts()) {
            EXPECT_EQ(server.children().size(), 4u);
        }
    }
}

// 200 client processes at once (the real client's --processes): every one gets its answer, and the
// concurrent servers leave no zombie behind.
TEST_P(Modes, TwoHundredClientsAtOnceAllGetAnswers) {
    const int k = 200;  // also under the sanitizers (small datagrams: it stays fast)
    Process server(server_args());
    const uint16_t port = server.wait_for_listening();
    const Result clients = run({kClient, "localhost", std::to_string(port), "--processes", std::to_string(k),
                                "--timeout", sanitized() ? "3" : "1", "--retries", "5"},
                               "", 120s);
    EXPECT_EQ(clients.status, 0) << clients.err;
    EXPECT_NE(clients.out.find(std::to_string(k) + " of " + std::to_string(k) + " client processes got their replies"),
              std::string::npos);
    EXPECT_TRUE(no_zombies(server));
    server.signal_group(SIGINT);
    EXPECT_EQ(server.wait_exit(20s), 0);
    // Each reply counted once (a datagram sent again after a timeout may be served twice: never fewer).
    const auto summary = server.wait_for_match(std::regex("server stopped by SIGINT: .*"));
    ASSERT_TRUE(summary);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*summary, m, std::regex("(\\d+) datagrams?"))) << *summary;
    EXPECT_GE(std::stoi(m[1]), k) << *summary;
}

// Garbage bytes and a maximum-size datagram get replies; an empty datagram gets none (the slide's
// `if data:`); the server serves on after each.
TEST_P(Modes, GarbageEmptyAndMaximumSizeDatagrams) {
    Process server(server_args());
    const uint16_t port = server.wait_for_listening();
    {
        Udp garbage;
        const std::string bytes("\x00\xff\x01\n\x7f\\binary", 12);
        if (is("conversation")) {  // only printable text opens a conversation: no child, no reply
            garbage.send_to(port, bytes);
            EXPECT_TRUE(server.wait_for_text(": not printable text, no conversation"));
            EXPECT_FALSE(garbage.receive(300ms)) << "no reply to garbage";
        } else {
            const auto reply = garbage.ask(port, bytes);
            ASSERT_TRUE(reply);
            EXPECT_FALSE(reply->data.empty());
        }
        EXPECT_TRUE(server.wait_for_text("\\x00\\xff\\x01\\x0a\\x7f\\x5cbinary")) << "the log shows the bytes escaped";
    }
    {
        Udp empty;
        empty.send_to(port, "");
        EXPECT_TRUE(server.wait_for_text("An empty datagram: no reply"));
        EXPECT_FALSE(empty.receive(300ms)) << "no reply to an empty datagram";
    }
    {
        Udp big;
        const std::string largest(65507, 'x');
        const auto reply = big.ask(port, largest);
        ASSERT_TRUE(reply);
        EXPECT_FALSE(reply->data.empty());
        EXPECT_TRUE(server.wait_for_text("... (65507 bytes)"));
    }
    EXPECT_EQ(run({kClient, "localhost", std::to_string(port), "still here"}).status, 0);
    EXPECT_TRUE(server.running());
}

// The exercise: a number gets its square, exactly, however big; anything else an error reply.
TEST_P(Modes, SquareRepliesWithTheSquare) {
    Process server(server_args({"--square"}));
    const uint16_t port = server.wait_for_listening();
    EXPECT_TRUE(server.wait_for_text("--square: the reply to a number is its square"));
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"12", "144"},
        {"-3", "9"},
        {"0", "0"},
        {"1.5", "2.25"},
        {" 7\n", "49"},
        {"+0.10", "0.01"},
        {"99999999999999999999", "9999999999999999999800000000000000000001"},
        {"abc", "error: not a number: abc"},
        {"1e5", "error: not a number: 1e5"},
        {"-", "error: not a number: -"},
        {std::string(1001, '9'), "error: too many digits (at most 1000)"}};
    for (const auto& [number, square] : cases) {
        Udp asker;
        const auto reply = asker.ask(port, number);
        ASSERT_TRUE(reply) << number;
        EXPECT_EQ(reply->data, square) << number;
    }
    const Result client = run({kClient, "localhost", std::to_string(port), "25"});
    EXPECT_NE(client.out.find("Received message from server: 625\n"), std::string::npos) << client.out;
}

// Ctrl-C at a terminal signals the whole group: parent and children end, status 0, one summary, from the
// parent. A conversation is left open so that a child is alive at that moment.
TEST_P(Modes, CtrlCToTheGroupEndsEveryProcessWithOneSummary) {
    Process server(server_args());
    const uint16_t port = server.wait_for_listening();
    if (is("pool")) pool_pids(server, 4);
    Udp open_conversation;
    ASSERT_TRUE(open_conversation.ask(port, "still talking"));
    if (is("conversation")) {
        ASSERT_TRUE(server.wait_for_text(" talks with 127.0.0.1:"));
        EXPECT_EQ(server.children().size(), 1u) << "the conversation's child";
    }
    server.signal_group(SIGINT);
    ASSERT_EQ(server.wait_exit(10s), 0);
    EXPECT_TRUE(group_gone(server.pid())) << "a process of the server's group is still running";
    server.wait_output_closed();
    EXPECT_EQ(server.count_matching(std::regex("server stopped by SIGINT: .*")), 1u);
    EXPECT_EQ(server.out_lines().back().rfind("server stopped by SIGINT: ", 0), 0u);
}

// SIGTERM to the parent alone (kill PID): it stops its children itself.
TEST_P(Modes, SigtermToTheParentAloneStopsTheChildrenToo) {
    Process server(server_args());
    const uint16_t port = server.wait_for_listening();
    if (is("pool")) pool_pids(server, 4);
    Udp open_conversation;
    ASSERT_TRUE(open_conversation.ask(port, "still talking"));
    server.signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(10s), 0);
    EXPECT_TRUE(group_gone(server.pid()));
    EXPECT_TRUE(server.wait_for_match(std::regex("server stopped by SIGTERM: .*")));
}

INSTANTIATE_TEST_SUITE_P(Lab03, Modes,
                         testing::Values(Mode{"iterative", {}}, Mode{"fork", {"--mode", "fork"}},
                                         Mode{"pool", {"--mode", "pool"}},
                                         Mode{"conversation", {"--mode", "conversation"}}),
                         [](const auto& info) { return info.param.name; });

// ------------------------------------------------------------------------------------ each mode's own

TEST(Lab03UdpIterative, TheSlideTranscript) {
    Process server({kServer, "0"});
    const uint16_t port = server.wait_for_listening();
    Udp client;
    ASSERT_TRUE(client.ask(port, "Hi server!"));
    const std::string from = "127.0.0.1:" + std::to_string(client.port());
    EXPECT_TRUE(server.wait_for_text("Waiting to receive message...\nReceived message from client: " + from +
                                     "\nMessage: Hi server!\nReplied to client: Hi client! Nice to connect with you!\n"
                                     "Waiting to receive message...\n"));
    EXPECT_EQ(server.out_lines().at(1), "mode iterative: one datagram at a time");
    server.signal(SIGINT);
    EXPECT_EQ(server.wait_exit(), 0);
    EXPECT_TRUE(server.wait_for_line("server stopped by SIGINT: served 1 datagram, one at a time"));
}

// Fork: a new pid for every datagram, the children reaped as they end, the limit on children respected.
TEST(Lab03UdpFork, EveryDatagramGetsItsOwnChildAndNoneIsLeftAZombie) {
    Process server({kServer, "0", "--mode", "fork", "--max-children", "3"});
    const uint16_t port = server.wait_for_listening();
    std::set<pid_t> pids;
    for (int i = 0; i < 20; ++i) {
        Udp asker;
        const auto reply = asker.ask(port, "one");
        ASSERT_TRUE(reply);
        pids.insert(pid_in(reply->data, asker.port()));
    }
    EXPECT_EQ(pids.size(), 20u);
    EXPECT_EQ(pids.count(-1), 0u);
    EXPECT_TRUE(no_zombies(server));
    const Result burst =
        run({kClient, "localhost", std::to_string(port), "--processes", "30", "--retries", "5"}, "", 60s);
    EXPECT_EQ(burst.status, 0) << burst.err;
    EXPECT_TRUE(no_zombies(server));
    server.signal_group(SIGINT);
    EXPECT_EQ(server.wait_exit(), 0);
    EXPECT_TRUE(
        server.wait_for_match(std::regex("server stopped by SIGINT: served \\d+ datagrams?, one child process "
                                         "each \\(\\d+ (children|child), all reaped(, the --max-children limit \\(3\\) "
                                         "was reached \\d+ times?)?\\)")));
}

// Pool: a worker killed at any moment is reaped and replaced; the pool serves on, never naming the dead.
TEST(Lab03UdpPool, AKilledWorkerIsReplacedAndThePoolServesOn) {
    Process server({kServer, "0", "--mode", "pool", "--workers", "3"});
    const uint16_t port = server.wait_for_listening();
    std::set<pid_t> pids = pool_pids(server, 3);
    ASSERT_EQ(pids.size(), 3u);
    const pid_t victim = *pids.begin();
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    const auto replaced = server.wait_for_match(std::regex("worker (\\d) \\(process " + std::to_string(victim) +
                                                           "\\) ended, killed by SIGKILL: starting a new one"));
    ASSERT_TRUE(replaced);
    const std::string index = replaced->substr(7, 1);
    ASSERT_TRUE(wait_count(server, std::regex("worker " + index + " is process \\d+"), 2))
        << "a new worker " << index << " is started";
    pids.erase(victim);
    // The earlier "worker I is process" line for this index names the victim; the last one the new worker.
    pid_t newcomer = 0;
    for (const auto& line : server.out_lines())
        if (line.rfind("worker " + index + " is process ", 0) == 0)
            newcomer = static_cast<pid_t>(std::stol(line.substr(line.rfind(' ') + 1)));
    ASSERT_NE(newcomer, victim);
    pids.insert(newcomer);
    EXPECT_TRUE(no_zombies(server));
    for (int i = 0; i < 12; ++i) {
        Udp asker;
        const auto reply = asker.ask(port, "after the loss");
        ASSERT_TRUE(reply);
        const pid_t pid = pid_in(reply->data, asker.port());
        EXPECT_EQ(pids.count(pid), 1u) << pid << " is not a live worker";
    }
    server.signal_group(SIGINT);
    EXPECT_EQ(server.wait_exit(), 0);
    const auto summary =
        server.wait_for_match(std::regex("server stopped by SIGINT: the pool served (\\d+) datagrams? "
                                         "\\(per worker 0: \\d+, 1: \\d+, 2: \\d+\\), every worker reaped"));
    ASSERT_TRUE(summary);
}

TEST(Lab03UdpPool, TheSummaryCountsAddUp) {
    Process server({kServer, "0", "--mode", "pool", "--workers", "2"});
    const uint16_t port = server.wait_for_listening();
    pool_pids(server, 2);
    for (int i = 0; i < 10; ++i) {
        Udp asker;
        asker.send_to(port, "count me");
        ASSERT_TRUE(asker.receive());
    }
    server.signal_group(SIGINT);
    EXPECT_EQ(server.wait_exit(), 0);
    const auto summary =
        server.wait_for_match(std::regex("server stopped by SIGINT: the pool served 10 datagrams "
                                         "\\(per worker 0: (\\d+), 1: (\\d+)\\), every worker reaped"));
    ASSERT_TRUE(summary);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*summary, m, std::regex("0: (\\d+), 1: (\\d+)")));
    EXPECT_EQ(std::stoi(m[1]) + std::stoi(m[2]), 10);
}

// Conversation (UNP 22.7): the first reply comes from a new port; the rest of the exchange goes there,
// to the same child; `bye` ends it; a stranger writing to that port is ignored.
TEST(Lab03UdpConversation, TheConversationMovesToANewPortAndEndsWithBye) {
    Process server({kServer, "0", "--mode", "conversation"});
    const uint16_t port = server.wait_for_listening();
    Udp client;
    const auto first = client.ask(port, "hello");
    ASSERT_TRUE(first);
    ASSERT_NE(first->from_port, port);
    const pid_t child = pid_in(first->data, client.port());
    ASSERT_GT(child, 0);
    EXPECT_TRUE(server.wait_for_line(std::to_string(child) + ": talks with 127.0.0.1:" + std::to_string(client.port()) +
                                     " from port " + std::to_string(first->from_port)));

    Udp stranger;
    stranger.send_to(first->from_port, "let me in");
    EXPECT_TRUE(server.wait_for_text(std::to_string(child) + ": ignored a datagram from 127.0.0.1:" +
                                     std::to_string(stranger.port()) + " (not its client)"));
    EXPECT_FALSE(stranger.receive(200ms));

    for (int i = 0; i < 3; ++i) {
        const auto next = client.ask(first->from_port, "more " + std::to_string(i));
        ASSERT_TRUE(next);
        EXPECT_EQ(next->from_port, first->from_port);
        EXPECT_EQ(pid_in(next->data, client.port()), child) << "the same child all along";
    }
    const auto bye = client.ask(first->from_port, "bye");
    ASSERT_TRUE(bye);
    EXPECT_EQ(bye->data, "bye");
    EXPECT_TRUE(server.wait_for_line(std::to_string(child) + ": 127.0.0.1:" + std::to_string(client.port()) +
                                     " said bye: the conversation ends after 4 datagrams"));
    EXPECT_TRUE(no_zombies(server));
    const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
    while (!server.children().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(server.children().empty()) << "the child has ended and been reaped";
}

TEST(Lab03UdpConversation, TheRealClientFollowsTheConversation) {
    Process server({kServer, "0", "--mode", "conversation"});
    const uint16_t port = server.wait_for_listening();
    const Result client = run({kClient, "localhost", std::to_string(port), "hello", "--count", "3"});
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_NE(client.out.find("the conversation goes on there"), std::string::npos) << client.out;
    EXPECT_NE(client.out.find("The server said bye\nSocket closed\n"), std::string::npos) << client.out;
    EXPECT_TRUE(server.wait_for_match(
        std::regex("\\d+: 127\\.0\\.0\\.1:\\d+ said bye: the conversation ends after 3 datagrams")));
}

TEST(Lab03UdpConversation, AnIdleConversationEnds) {
    Process server({kServer, "0", "--mode", "conversation", "--idle-timeout", "0.3"});
    const uint16_t port = server.wait_for_listening();
    Udp client;
    const auto first = client.ask(port, "hello, then silence");
    ASSERT_TRUE(first);
    EXPECT_TRUE(
        server.wait_for_match(std::regex("\\d+: no word from 127\\.0\\.0\\.1:\\d+ for 0\\.3 s: the conversation "
                                         "ends after 1 datagram")));
    EXPECT_TRUE(no_zombies(server));
}

// The conversation server stalled by nobody: a conversation starts only on a valid opening, ends on the
// client's bye, and a full server says busy while it keeps reading, so the client's retries get through.

// The number of conversations the server has started (a child's "PID: talks with ..." line each).
size_t conversations_started(const Process& server) { return server.count_matching(std::regex("\\d+: talks with .*")); }

// Waits until the parent has said `n` conversations are over. Count a child's lines only after that: the test
// reads the server's output on its own thread, a child writes it from another process than the parent, and
// the parent writes "over" once the child has exited, so every line of that child is read before it.
bool conversations_over(const Process& server, size_t n) {
    const std::regex over("conversation with .* over \\(child \\d+ reaped\\): \\d+ going on");
    const bool all = wait_until([&] { return server.count_matching(over) >= n; }, 10s);
    EXPECT_TRUE(all) << server.count_matching(over) << " of " << n << " conversations ended with bye";
    return all;
}

// 200 one-shot clients at once, with the client's default timeout (1 s) and retries (3): every one is
// answered, by one conversation each, and every conversation has ended with its bye. `delay_ms` makes each
// reply slower than the client's timeout, so every client sends its opening again: a retry must start no
// second conversation (the old server did, each holding a child for 10 s, and stopped reading at 64).
void two_hundred_clients_at_once(int delay_ms) {
    const int k = sanitized() ? 100 : 200;  // programs are ~3x slower under the sanitizers
    Process server({kServer, "0", "--mode", "conversation", "--delay-ms", std::to_string(delay_ms)});
    const uint16_t port = server.wait_for_listening();
    const Result clients =
        run({kClient, "localhost", std::to_string(port), "--processes", std::to_string(k)}, "", 120s);
    EXPECT_EQ(clients.status, 0) << clients.err;
    EXPECT_NE(clients.out.find(std::to_string(k) + " of " + std::to_string(k) + " client processes got their replies"),
              std::string::npos)
        << clients.err;
    conversations_over(server, static_cast<size_t>(k));
    EXPECT_EQ(conversations_started(server), static_cast<size_t>(k)) << "one conversation per client";
    EXPECT_TRUE(wait_until([&] { return server.children().empty(); }, 10s)) << "every child reaped";
    EXPECT_TRUE(no_zombies(server));
}

TEST(Lab03UdpConversation, TwoHundredClientsAtOnceAreAllAnsweredWithTheDefaultRetries) {
    two_hundred_clients_at_once(0);
}

TEST(Lab03UdpConversation, TwoHundredClientsWhoseRepliesOutlastTheirTimeoutAreAllAnswered) {
    two_hundred_clients_at_once(1200);
}

// 100 datagrams of random bytes (and empty ones) from strangers start no conversation and hold nothing: a
// valid client right after them is answered at its first try.
TEST(Lab03UdpConversation, StrangersRandomDatagramsNeverStopAValidClient) {
    Process server({kServer, "0", "--mode", "conversation"});
    const uint16_t port = server.wait_for_listening();
    std::mt19937 random(2026);
    std::vector<std::unique_ptr<Udp>> strangers;
    for (int i = 0; i < 10; ++i) strangers.push_back(std::make_unique<Udp>());
    for (int i = 0; i < 100; ++i) {
        std::string bytes(i % 10 == 9 ? 0 : 1 + random() % 300, '\0');
        for (char& byte : bytes) byte = static_cast<char>(random() % 256);
        if (!bytes.empty()) bytes[random() % bytes.size()] = '\x01';  // at least one byte that is not text
        strangers[static_cast<size_t>(i) % strangers.size()]->send_to(port, bytes);
    }
    // At once: the client's opening is queued behind the strangers' datagrams.
    const Result client = run({kClient, "localhost", std::to_string(port), "hello after the strangers"}, "", 30s);
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_NE(client.out.find("The server said bye"), std::string::npos) << client.out;
    EXPECT_EQ(client.out.find("sent again"), std::string::npos) << "answered at the first try:\n" << client.out;
    const std::regex ignored("(Ignored '.*' from .*: not printable text, no conversation|An empty datagram: .*)");
    EXPECT_TRUE(wait_until([&] { return server.count_matching(ignored) >= 100; }, 10s))
        << server.count_matching(ignored) << " of the strangers' 100 datagrams read";
    conversations_over(server, 1);
    EXPECT_EQ(conversations_started(server), 1u) << "the client's, none for a stranger";
    EXPECT_TRUE(wait_until([&] { return server.children().empty(); }, 5s)) << "the client's child reaped";
    for (const auto& stranger : strangers) EXPECT_FALSE(stranger->receive(10ms)) << "a stranger gets no reply";
}

// The opening and its retry (sent before any reply, as a client does when the reply is slow) make one
// conversation: the child sends its first reply again from its port. `bye` ends it at once (the idle
// time-out is a minute): the child is reaped and the parent counts its conversations back to 0.
TEST(Lab03UdpConversation, ARepeatedOpeningIsOneConversationAndByeEndsItAtOnce) {
    Process server({kServer, "0", "--mode", "conversation", "--idle-timeout", "60"});
    const uint16_t port = server.wait_for_listening();
    Udp client;
    client.send_to(port, "hello");
    client.send_to(port, "hello");
    const auto first = client.receive();
    ASSERT_TRUE(first);
    const pid_t child = pid_in(first->data, client.port());
    ASSERT_GT(child, 0) << first->data;
    const auto again = client.receive();
    ASSERT_TRUE(again) << "the reply, sent again for the repeated opening";
    EXPECT_EQ(again->from_port, first->from_port);
    EXPECT_EQ(pid_in(again->data, client.port()), child);
    const std::string from = "127.0.0.1:" + std::to_string(client.port());
    EXPECT_TRUE(server.wait_for_text("Received message 'hello' at " + from + " again: " + std::to_string(child) +
                                     " talks with it"));
    EXPECT_EQ(server.children().size(), 1u);

    const auto bye = client.ask(first->from_port, "bye");
    ASSERT_TRUE(bye);
    EXPECT_EQ(bye->data, "bye");
    EXPECT_TRUE(server.wait_for_line("conversation with " + from + " over (child " + std::to_string(child) +
                                     " reaped): 0 going on"));
    EXPECT_EQ(conversations_started(server), 1u);  // only now (see conversations_over)
    EXPECT_TRUE(wait_until([&] { return server.children().empty(); }, 5s)) << "the child has ended and been reaped";
}

// --max-children 2 with two conversations going on: a new client is told busy (the parent still reads), and
// its retry, with the default retries, gets through once one conversation ends.
TEST(Lab03UdpConversation, AFullServerSaysBusyAndTheRetryGetsThroughOnceAConversationEnds) {
    Process server({kServer, "0", "--mode", "conversation", "--max-children", "2", "--idle-timeout", "60"});
    const uint16_t port = server.wait_for_listening();
    Udp first, second;
    const auto first_reply = first.ask(port, "first");
    const auto second_reply = second.ask(port, "second");
    ASSERT_TRUE(first_reply && second_reply);
    Process client({kClient, "localhost", std::to_string(port), "third", "--timeout",
                    std::to_string(scaled(1s).count() / 1000.0)});
    ASSERT_TRUE(client.wait_for_text("The server is busy: 2 conversations going on, try again"));
    const auto bye = first.ask(first_reply->from_port, "bye");
    ASSERT_TRUE(bye);
    EXPECT_EQ(client.wait_exit(scaled(20s)), 0) << client.err();
    EXPECT_TRUE(client.wait_for_match(std::regex("The server was busy: sent again \\(retry \\d of 3\\)")));
    EXPECT_TRUE(client.wait_for_text("The server said bye"));
    EXPECT_EQ(conversations_started(server), 3u) << "first, second, third: no other";
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0);
    EXPECT_TRUE(
        server.wait_for_match(std::regex("server stopped by SIGTERM: 3 conversations, .*, \\d+ busy "
                                         "repl(y|ies), the --max-children limit \\(2\\) was reached \\d+ times?")));
}

// ------------------------------------------------------------------------------------- client, options

// No server: the client sends again --retries times, then exits 1 saying so, within a bounded time.
TEST(Lab03UdpClient, NoServerExitsOneAfterItsRetries) {
    Udp placeholder;  // a port nobody answers on
    const auto start = std::chrono::steady_clock::now();
    const Result result = run(
        {kClient, "127.0.0.1", std::to_string(placeholder.port()), "anyone?", "--timeout", "0.2", "--retries", "2"});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.out.find("sent again (retry 2 of 2)"), std::string::npos) << result.out;
    EXPECT_NE(result.err.find("no reply from 127.0.0.1:" + std::to_string(placeholder.port()) + " after 3 tries"),
              std::string::npos)
        << result.err;
    EXPECT_LT(took, scaled(3s));
}

TEST(Lab03UdpClient, ManyProcessesAndNoServerReportsHowManyFailed) {
    Udp placeholder;
    const Result result = run({kClient, "127.0.0.1", std::to_string(placeholder.port()), "--processes", "3",
                               "--timeout", "0.1", "--retries", "1"});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.out.find("0 of 3 client processes got their replies"), std::string::npos) << result.out;
}

TEST(Lab03UdpClient, ManyProcessesEachSayHiWithTheirPid) {
    Process server({kServer, "0", "--mode", "fork"});
    const uint16_t port = server.wait_for_listening();
    const Result result = run({kClient, "localhost", std::to_string(port), "--processes", "3"});
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_TRUE(wait_count(server,
                           std::regex("Received message 'Hi from \\d+ at 127\\.0\\.0\\.1:" + std::to_string(port) +
                                      "' at 127\\.0\\.0\\.1:\\d+"),
                           3));
    const std::regex prefixed("(\\d+): Received message from server: Hi 127\\.0\\.0\\.1:\\d+\\. This is server \\d+");
    size_t replies = 0;
    for (const auto& line : lines(result.out)) replies += std::regex_match(line, prefixed) ? 1 : 0;
    EXPECT_EQ(replies, 3u) << result.out;
    EXPECT_NE(result.out.find("3 of 3 client processes got their replies"), std::string::npos);
}

TEST(Lab03UdpServer, ABusyPortExitsOneNamingThePort) {
    Process first({kServer, "0"});
    const uint16_t port = first.wait_for_listening();
    const Result second = run({kServer, std::to_string(port), "--mode", "pool"});
    EXPECT_EQ(second.status, 1);
    EXPECT_NE(second.err.find(":" + std::to_string(port)), std::string::npos) << second.err;
    EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
}

TEST(Lab03UdpServer, ServesOverIpv6) {
    Process server({kServer, "0", "--mode", "fork", "--bind", "::1"});
    const uint16_t port = server.wait_for_listening();
    EXPECT_EQ(server.out_lines().at(0), "listening on [::1]:" + std::to_string(port));
    const Result client = run({kClient, "::1", std::to_string(port), "over v6"});
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_NE(client.out.find("Received message from server: Hi [::1]:"), std::string::npos) << client.out;
}

TEST(Lab03UdpServer, BadArgumentsExitTwoWithOneLine) {
    const std::vector<std::vector<std::string>> bad = {{kServer, "--mode", "threads"},
                                                       {kServer, "0", "--mode", "pool", "--workers", "0"},
                                                       {kServer, "0", "--workers", "3"},
                                                       {kServer, "0", "--mode", "pool", "--max-children", "3"},
                                                       {kServer, "0", "--idle-timeout", "1"},
                                                       {kServer, "70000"},
                                                       {kServer, "0", "extra"},
                                                       {kServer, "--nope"},
                                                       {kClient, "localhost", "1", ""},
                                                       {kClient, "localhost", "1", "hi", "--processes", "0"},
                                                       {kClient, "localhost", "1", "hi", "--timeout", "0"},
                                                       {kClient, "localhost", "port"},
                                                       {kClient, "localhost", "1", std::string(65508, 'x')}};
    for (const auto& args : bad) {
        const Result result = run(args);
        EXPECT_EQ(result.status, 2) << args.back().substr(0, 20);
        EXPECT_EQ(lines(result.err).size(), 1u) << result.err;
        EXPECT_TRUE(result.out.empty()) << result.out;
    }
}

TEST(Lab03UdpServer, ModesAreCaseInsensitive) {
    Process server({kServer, "0", "--mode", "Pool", "--workers", "1"});
    server.wait_for_listening();
    EXPECT_TRUE(server.wait_for_line("mode pool: pre-forked worker processes share the socket"));
}

TEST(Lab03UdpServer, HelpExitsZeroAndShowsTheDefaults) {
    const Result server = run({kServer, "--help"});
    EXPECT_EQ(server.status, 0);
    for (const char* text : {"10001", "--mode", "iterative", "conversation", "--workers", "--square", "--max-children",
                             "--idle-timeout", "--grace", "--delay-ms", "SIGHUP", "65507"})
        EXPECT_NE(server.out.find(text), std::string::npos) << text;
    const Result client = run({kClient, "--help"});
    EXPECT_EQ(client.status, 0);
    for (const char* text : {"10001", "--processes", "--count", "--timeout", "--retries"})
        EXPECT_NE(client.out.find(text), std::string::npos) << text;
}
