// Tests of 07_epoll: one suite run over every mode, select, poll, epoll, epoll-et and uring, so no mode can
// skip a behaviour. Each test runs the real ./server, ./client and ./poll_pipes.
// Slides: the lecture "Network Programming" (Stevens UNP ch. 26/30, Kerrisk TLPI ch. 63), slides "Single
// Process Servers" to "Event Driven Architectures", and the poll() example (TLPI's poll_pipes.c).
// Suites: Lab07/EchoModes.*/MODE (every mode), Lab07EchoServer (usage errors), Lab07EchoClient (--server-pid
// auto, a refused connection), Lab07PollPipes (the poll() example).
//
// Demo of what is checked: ./server 9879 --mode poll   then   ./client --connections 500 --messages 10
// Watch for: every byte echoed whatever the size; a client that stops reading costs only itself;
// select refuses descriptors >= FD_SETSIZE; epoll holds 10,000 connections. The misbehaving clients,
// descriptor exhaustion (EMFILE) and signals are in the fault suite, test_faults_echo.cpp, over 06 and
// every mode of 07.
#include "tests/echo_helpers.hpp"
#include "tests/harness.hpp"
#include "tests/uring_helpers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <regex>
#include <set>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

using namespace harness;
using namespace echo_helpers;

namespace {

const std::string kServer = program("07_epoll", "server");
const std::string kClient = program("07_epoll", "client");

class EchoModes : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "uring" && !uring_helpers::uring_refused().empty())
            GTEST_SKIP() << uring_helpers::uring_refused();
    }
    std::unique_ptr<Process> start(std::vector<std::string> extra = {}, Options options = {}) {
        std::vector<std::string> argv{kServer, "0", "--mode", GetParam()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        options.name = "server " + GetParam();
        auto server = std::make_unique<Process>(argv, options);
        port_ = server->wait_for_listening();
        return server;
    }
    std::vector<std::string> client(std::vector<std::string> extra) const {
        std::vector<std::string> argv{kClient, "127.0.0.1", std::to_string(port_)};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }
    uint16_t port_ = 0;
};

}  // namespace

// Typed lines come back, as in a terminal: `./client`, then `hello`.
TEST_P(EchoModes, InteractiveLinesComeBack) {
    auto server = start();
    ASSERT_NE(port_, 0);
    const Result result = run(client({}), "hello\nsecond line\n", scaled(10s));
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("client is connected"), std::string::npos);
    EXPECT_NE(result.out.find("echo: hello\n"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("echo: second line\n"), std::string::npos) << result.out;
    EXPECT_TRUE(server->wait_for_match(std::regex("mode " + GetParam() + ": .*")));
    EXPECT_TRUE(server->wait_for_match(std::regex("accepted 127\\.0\\.0\\.1:\\d+ on fd \\d+")));
    EXPECT_TRUE(server->wait_for_match(std::regex("closed fd \\d+ \\(127\\.0\\.0\\.1:\\d+\\): end of input")));
}

// From 1 byte to several MiB per message, many messages per connection, every byte checked by the client.
TEST_P(EchoModes, EchoesOneByteToSeveralMiB) {
    auto server = start({"--quiet"});
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--size", "1", "--messages", "500"},
             {"--size", "65537", "--messages", "30", "--connections", "4"},
             {"--size", std::to_string(6 << 20), "--messages", "2", "--connections", "2"}}) {
        const Result result = run(client(args), "", scaled(60s));
        EXPECT_EQ(result.status, 0) << result.err;
        EXPECT_NE(result.out.find("echoed and verified"), std::string::npos) << result.out;
    }
    server->signal(SIGINT);
    EXPECT_EQ(server->wait_exit(scaled(10s)), 0);
    // 500 + 4*30*65537 + 2*2*6 MiB bytes went through the server.
    const uint64_t total = 500ull + 4ull * 30 * 65537 + 2ull * 2 * (6 << 20);
    EXPECT_TRUE(server->wait_for_match(std::regex("server stopped by SIGINT: 7 connections served .*, " +
                                                  std::to_string(total) + " bytes, 0 closed on errors.*")));
}

// 500 clients at once, all served by one thread; afterwards the server holds no descriptor of theirs.
TEST_P(EchoModes, FiveHundredClientsAtOnce) {
    auto server = start({"--quiet"});
    const int clients = sanitized() ? 200 : 500;
    const Result result =
        run(client({"--connections", std::to_string(clients), "--messages", "10", "--size", "1000"}), "", scaled(60s));
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find(std::to_string(clients) + " connections x 10 messages of 1000 bytes echoed and verified"),
              std::string::npos)
        << result.out;
    EXPECT_TRUE(wait_only_listener(*server)) << "client sockets left open: " << socket_count(server->pid()) - 1;
}

// A client that sends but never reads fills its socket: the server keeps that echo in the client's output
// buffer and serves everyone else meanwhile; when the client reads, every byte arrives, in order.
TEST_P(EchoModes, StuckClientIsBufferedOthersGoOn) {
    auto server = start({"--quiet"});
    Connection stuck(port_);
    std::string payload(32 << 20, '\0');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = char('A' + (i * 7919 % 26));
    std::thread sender([&] { stuck.send(payload); });
    const Result other = run(client({"--message", "still served"}), "", scaled(10s));
    EXPECT_EQ(other.status, 0) << other.err;
    EXPECT_NE(other.out.find("echo: still served"), std::string::npos);
    const std::string echoed = stuck.read_exact(payload.size(), scaled(60s));
    sender.join();
    EXPECT_EQ(echoed.size(), payload.size());
    EXPECT_TRUE(echoed == payload) << "the echo differs from what was sent";
}

// Clients that vanish mid-stream (reset with unread data, or half-way through a message) cost only their
// own connection: the others finish and no descriptor is left behind.
TEST_P(EchoModes, AbruptDisconnectsCloseOnlyThatConnection) {
    auto server = start();
    Process load(client({"--connections", "10", "--messages", "300", "--size", "20000"}), {.name = "load client"});
    for (int i = 0; i < 40; ++i) {
        Connection gone(port_);
        gone.send(std::string(size_t(100000 + i * 1000), 'x'));
        if (i % 2 == 0) gone.read_exact(1000, scaled(10s));  // some of the echo read, the rest never
        // closing with unread data sends a reset; the server meets ECONNRESET or EPIPE
    }
    EXPECT_EQ(load.wait_exit(scaled(60s)), 0);
    load.wait_output_closed();
    EXPECT_NE(load.out().find("echoed and verified"), std::string::npos);
    EXPECT_TRUE(wait_only_listener(*server)) << "client sockets left open: " << socket_count(server->pid()) - 1;
    EXPECT_TRUE(server->running());
    const Result after = run(client({"--message", "after"}), "", scaled(10s));
    EXPECT_NE(after.out.find("echo: after"), std::string::npos);
}

// select() cannot watch a descriptor >= FD_SETSIZE: such connections are closed with a log line, and the
// others are still served. The other modes have no such limit and serve them all.
TEST_P(EchoModes, FdSetsizeLimitOnlyForSelect) {
    const int count = 1100;
    if (!raise_own_fd_limit(count + 200)) GTEST_SKIP() << "the hard descriptor limit is below " << count + 200;
    auto server = start({"--quiet"});
    std::vector<std::unique_ptr<Connection>> connections;
    for (int i = 0; i < count; ++i) connections.push_back(std::make_unique<Connection>(port_));
    int echoed = 0, closed = 0;
    for (auto& connection : connections) {
        connection->send("x");
        const std::string reply = connection->read_exact(1, scaled(10s));
        if (reply == "x")
            ++echoed;
        else if (connection->wait_closed(scaled(5s)))
            ++closed;
    }
    const size_t refused = server->count_matching(std::regex(
        "refused 127\\.0\\.0\\.1:\\d+: descriptor \\d+ >= FD_SETSIZE \\(1024\\), select\\(\\) cannot watch it"));
    if (GetParam() == "select") {
        EXPECT_GT(echoed, 1000);
        EXPECT_LE(echoed, 1024);
        EXPECT_EQ(closed, count - echoed);
        EXPECT_EQ(refused, size_t(closed));
    } else {
        EXPECT_EQ(echoed, count);
        EXPECT_EQ(refused, 0u);
    }
    // The first clients are still served after the refusals.
    connections.front()->send("again");
    EXPECT_EQ(connections.front()->read_exact(5, scaled(10s)), "again");
}

// Idle connections cost an event-driven server nothing while they stay silent.
TEST_P(EchoModes, IdleConnectionsCostNoCpu) {
    auto server = start({"--quiet"});
    std::vector<std::unique_ptr<Connection>> connections;
    for (int i = 0; i < 200; ++i) connections.push_back(std::make_unique<Connection>(port_));
    connections.back()->send("x");
    ASSERT_EQ(connections.back()->read_exact(1, scaled(10s)), "x");
    const double before = cpu_seconds(server->pid());
    std::this_thread::sleep_for(500ms);
    EXPECT_LT(cpu_seconds(server->pid()) - before, 0.05);
}

// C10k: 10,000 connections open at once (each proven served by an echo) while 10 active ones exchange
// messages. Resident memory stays small: an idle connection holds no buffer (checked without sanitizers,
// whose shadow memory would dominate).
TEST_P(EchoModes, TenThousandConnections) {
    if (GetParam() == "select")
        GTEST_SKIP() << "select cannot watch more than FD_SETSIZE (1024) descriptors: see FdSetsizeLimitOnlyForSelect";
    const int idle = 10000;
    if (!raise_own_fd_limit(rlim_t(idle) + 200))
        GTEST_SKIP() << "the hard descriptor limit (ulimit -Hn) is below " << idle + 200 << ": cannot hold " << idle
                     << " connections";
    auto server = start({"--quiet"});
    const Result result =
        run(client({"--idle", std::to_string(idle), "--connections", "10", "--messages", "20"}), "", scaled(120s));
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("holding " + std::to_string(idle) + " idle connections"), std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("10 connections x 20 messages of 64 bytes echoed and verified"), std::string::npos);
    server->signal(SIGINT);
    EXPECT_EQ(server->wait_exit(scaled(20s)), 0);
    const auto summary = server->wait_for_match(std::regex("CPU time: .*; peak resident memory (\\d+) MiB"));
    ASSERT_TRUE(summary);
    if (!sanitized()) {
        std::smatch match;
        ASSERT_TRUE(std::regex_match(*summary, match, std::regex(".*peak resident memory (\\d+) MiB")));
        EXPECT_LT(std::stoi(match[1]), 64);
    }
    EXPECT_TRUE(server->wait_for_match(std::regex("server stopped by SIGINT: " + std::to_string(idle + 10) +
                                                  " connections served \\(at most " + std::to_string(idle + 10) +
                                                  " at once\\).*")));
}

// Ctrl-C: stop accepting, let the connected clients finish, print the summary, exit 0.
TEST_P(EchoModes, CtrlCPrintsSummaryAndExits) {
    auto server = start();
    const Result result = run(client({"--message", "bye"}), "", scaled(10s));
    EXPECT_EQ(result.status, 0);
    server->signal_group(SIGINT);
    EXPECT_EQ(server->wait_exit(scaled(10s)), 0);
    EXPECT_TRUE(server->wait_for_match(std::regex(
        "server stopped by SIGINT: 1 connection served \\(at most 1 at once\\), 1 read echoed, 4 bytes, .*")));
    EXPECT_TRUE(server->wait_for_match(
        std::regex("CPU time: user [0-9.]+ s, system [0-9.]+ s, total [0-9.]+ s; peak resident memory \\d+ MiB")));
}

INSTANTIATE_TEST_SUITE_P(Lab07, EchoModes, ::testing::Values("select", "poll", "epoll", "epoll-et", "uring"),
                         [](const auto& info) {
                             std::string name = info.param;
                             std::erase(name, '-');
                             return name;
                         });

TEST(Lab07EchoServer, UsageErrors) {
    const Result bad_mode = run({kServer, "0", "--mode", "kqueue"});
    EXPECT_EQ(bad_mode.status, 2);
    EXPECT_EQ(lines(bad_mode.err).size(), 1u) << bad_mode.err;
    const Result help = run({kServer, "--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("epoll-et"), std::string::npos);
    EXPECT_NE(help.out.find("uring"), std::string::npos) << help.out;
    const Result client_help = run({kClient, "--help"});
    EXPECT_NE(client_help.out.find("--idle"), std::string::npos);
    const Result both = run({kClient, "--message", "x", "--idle", "3"});
    EXPECT_EQ(both.status, 2);
}

// Where the kernel refuses io_uring, `--mode uring` says why in one line and exits 1 before listening. The
// refusal is made by strace, which fails the server's io_uring_setup with EPERM (as a seccomp filter or
// kernel.io_uring_disabled does) and ENOSYS (a kernel without io_uring).
TEST(Lab07EchoServer, UringRefusedSaysWhyAndExits1) {
    if (::access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/strace to refuse io_uring_setup";
    for (const std::string error : {"EPERM", "ENOSYS"}) {
        // (-E: LeakSanitizer cannot run under ptrace, so the AddressSanitizer build runs without it here.)
        const Result refused = run({"/usr/bin/strace", "-f", "-o", "/dev/null", "-E", "ASAN_OPTIONS=detect_leaks=0",
                                    "-e", "inject=io_uring_setup:error=" + error, kServer, "0", "--mode", "uring"});
        if (refused.err.rfind("strace: ", 0) == 0) GTEST_SKIP() << "strace cannot trace here: " << refused.err;
        EXPECT_EQ(refused.status, 1) << error << ": " << refused.err;
        EXPECT_EQ(lines(refused.err).size(), 1u) << refused.err;
        EXPECT_EQ(refused.err.rfind("server: io_uring is not available here: io_uring_setup: ", 0), 0u) << refused.err;
        EXPECT_NE(refused.err.find(error == "EPERM" ? "refused" : "no io_uring"), std::string::npos) << refused.err;
        EXPECT_EQ(refused.out.find("listening on"), std::string::npos) << "nothing may listen";
    }
}

TEST(Lab07EchoClient, RefusedConnectionIsARuntimeError) {
    // A port nobody listens on: find one by binding and closing.
    uint16_t port = 0;
    {
        Process server({kServer, "0"});
        port = server.wait_for_listening();
    }
    const Result result = run({kClient, "127.0.0.1", std::to_string(port), "--message", "x"});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("Connection refused"), std::string::npos) << result.err;
}

// `--server-pid auto`: the client finds the local server's pid from the socket listening on the port (the
// README's recipe), and prints the server's CPU for the messages as with an explicit pid.
TEST(Lab07EchoClient, ServerPidAutoFindsTheLocalServer) {
    Process server({kServer, "0", "--mode", "poll", "--quiet"});
    const uint16_t port = server.wait_for_listening();
    ASSERT_NE(port, 0);
    const Result result = run({kClient, "localhost", std::to_string(port), "--idle", "20", "--connections", "1",
                               "--messages", "50", "--server-pid", "auto"},
                              "", scaled(30s));
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("server pid " + std::to_string(server.pid()) + " (the process listening on port " +
                              std::to_string(port) + ")\n"),
              std::string::npos)
        << result.out;
    const std::regex cpu_line("server CPU for those messages: user [0-9.]+ s, .* per 100000 messages");
    EXPECT_TRUE(std::regex_search(result.out, cpu_line)) << result.out;
    const Result bad = run({kClient, "--server-pid", "self"});
    EXPECT_EQ(bad.status, 2);
    EXPECT_EQ(lines(bad.err).size(), 1u) << bad.err;
}

// Several processes own the listening socket (a pre-forked server: 04_prefork's children share it): the
// client cannot tell which to measure, and says so (exit 1) rather than print another process's CPU.
TEST(Lab07EchoClient, ServerPidAutoRefusesAPortSharedBySeveralProcesses) {
    Process prefork({program("04_prefork", "server"), "0", "2", "--mode", "nolock"});
    const uint16_t port = prefork.wait_for_listening();
    ASSERT_NE(port, 0);
    const Result result = run(
        {kClient, "127.0.0.1", std::to_string(port), "--connections", "1", "--server-pid", "auto"}, "", scaled(20s));
    EXPECT_EQ(result.status, 1) << result.out;
    EXPECT_TRUE(std::regex_search(result.err, std::regex("client: --server-pid auto: [23] processes listen on port " +
                                                         std::to_string(port) + " \\(give the server's pid\\)\n")))
        << result.err;
    prefork.signal_group(SIGINT);
    EXPECT_EQ(prefork.wait_exit(scaled(10s)), 0);
}

// The lecture's poll() example (TLPI's poll_pipes.c): poll() returns the number of distinct pipes written
// to, and `Readable:` names exactly their read ends, in the order of the pollfd array.
TEST(Lab07PollPipes, ReportsExactlyThePipesWrittenTo) {
    const Result result = run({program("07_epoll", "poll_pipes"), "10", "6", "--seed", "3"});
    ASSERT_EQ(result.status, 0) << result.err;
    std::set<int> written;
    std::vector<int> readable;
    int returned = -1;
    int previous_index = -1;
    for (const std::string& line : lines(result.out)) {
        std::smatch match;
        if (std::regex_match(line, match, std::regex("Writing to fd: +(\\d+) \\(read fd: +(\\d+)\\)"))) {
            written.insert(std::stoi(match[2]));
        } else if (std::regex_match(line, match, std::regex("poll\\(\\) returned: (\\d+)"))) {
            returned = std::stoi(match[1]);
        } else if (std::regex_match(line, match, std::regex("Readable: (\\d+) +(\\d+)"))) {
            EXPECT_GT(std::stoi(match[1]), previous_index) << result.out;
            previous_index = std::stoi(match[1]);
            readable.push_back(std::stoi(match[2]));
        } else {
            ADD_FAILURE() << "unexpected line: " << line;
        }
    }
    EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 6 + 1 + long(written.size())) << result.out;
    EXPECT_EQ(returned, int(written.size())) << result.out;
    EXPECT_EQ(std::set<int>(readable.begin(), readable.end()), written) << result.out;
    EXPECT_EQ(readable.size(), written.size()) << result.out;
}

TEST(Lab07PollPipes, NoWritesNothingReadable) {
    const Result result = run({program("07_epoll", "poll_pipes"), "5", "0", "--timeout", "50"});
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out, "poll() returned: 0\n");
}

TEST(Lab07PollPipes, UsageErrorsAndHelp) {
    const std::string poll_pipes = program("07_epoll", "poll_pipes");
    const std::vector<std::vector<std::string>> usage_errors{{poll_pipes},
                                                             {poll_pipes, "0"},
                                                             {poll_pipes, "3", "-1"},
                                                             {poll_pipes, "three"},
                                                             {poll_pipes, "3", "1", "--timeout", "-1"}};
    for (const auto& argv : usage_errors) {
        const Result bad = run(argv);
        EXPECT_EQ(bad.status, 2) << argv.size() << ": " << bad.err;
        EXPECT_EQ(lines(bad.err).size(), 1u) << bad.err;
        EXPECT_TRUE(bad.out.empty()) << bad.out;
    }
    const Result help = run({poll_pipes, "--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("NUM_PIPES"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("--seed"), std::string::npos) << help.out;
    const Result too_many = run({poll_pipes, "100"}, "", 10s, {.rlimits = {{RLIMIT_NOFILE, 32}}});
    EXPECT_EQ(too_many.status, 1);
    EXPECT_NE(too_many.err.find("poll_pipes: pipe: Too many open files"), std::string::npos) << too_many.err;
}
