// Tests of lab 04_prefork, run as a user runs it: the real ./server (every --mode) and the load client.
//
// Slides: the lecture "Network Programming" (UNP ch. 30), slides "Server Design Alternatives" through
// "Comparing Multi Process/Multi Thread Designs" (preforking in its three forms, the thundering herd) and
// "Concurrency in Apache" (the hybrid).
// Suites: Lab04/ByteCountServer.* (the byte-count suite over every mode), Lab04/ProcessPool.* (the pools:
// children replaced, even the lock holder; children die with their parent), Lab04/WakeUps.* (the herd
// counted), Lab04Prefork.* (the hybrid's counts, the mutex's recovery, the command line), Lab04LoadClient.*.
// Demo: ./server 9877 5 --mode mutex, then ./client localhost 9877 5 500 4000, then Ctrl-C the server.
// Watch for: the byte-count suite (byte_count_suite.hpp) runs over every model; the tests below are the
// process pool's own: a child killed at any moment, even holding the accept lock, is reaped and replaced.
#include "tests/byte_count_suite.hpp"

#include <arpa/inet.h>
#include <fstream>
#include <netinet/in.h>
#include <sys/syscall.h>

using namespace harness;
using byte_count_suite::ByteCountServer;
using byte_count_suite::ModelCase;

namespace {

const std::string kLab = "04_prefork";
const std::string kServer = program(kLab, "server");
const std::string kClient = program(kLab, "client");

// True if some thread of `pid` is blocked in accept().
bool in_accept(pid_t pid) {
    return byte_count_suite::some_thread_blocked_in(pid, SYS_accept4) ||
           byte_count_suite::some_thread_blocked_in(pid, SYS_accept);
}

// True if some thread of `pid` is blocked in poll().
bool in_poll(pid_t pid) {
    return byte_count_suite::some_thread_blocked_in(pid, SYS_poll) ||
           byte_count_suite::some_thread_blocked_in(pid, SYS_ppoll);
}

// True if a child waits on the listening socket: in accept() with `nolock` (every child) and under a lock
// (the one holding it); in poll() with `nolock --wait poll` ("nolock-poll": every child, then accept) and
// `hybrid` (the thread holding both locks, which also watches the stop pipe).
bool waits_on_socket(pid_t child, const std::string& model) {
    return model == "nolock-poll" || model == "hybrid" ? in_poll(child) : in_accept(child);
}

// A child waiting on the listening socket (see waits_on_socket), or -1.
pid_t waiting_child(Process& server, const std::string& model, Duration timeout = 10s) {
    pid_t found = -1;
    wait_until(
        [&] {
            for (const pid_t child : server.children())
                if (waits_on_socket(child, model)) found = child;
            return found > 0;
        },
        timeout);
    return found;
}

// The summary's "wake-ups: W for C connections (R per connection)": {W, C}, or {-1, -1}.
std::pair<long, long> wakeups(const std::vector<std::string>& lines) {
    static const std::regex line(R"(wake-ups: (\d+) for (\d+) connections( \(\d+\.\d\d per connection\))?)");
    std::smatch match;
    for (const auto& text : lines)
        if (std::regex_match(text, match, line)) return {std::stol(match[1]), std::stol(match[2])};
    return {-1, -1};
}

// MODEL: a --mode, or "nolock-poll" for `--mode nolock --wait poll`.
std::vector<std::string> pool_args(const std::string& model, int n) {
    std::vector<std::string> args = {kServer, "0", std::to_string(n), "--mode", model};
    if (model == "nolock-poll") args = {kServer, "0", std::to_string(n), "--mode", "nolock", "--wait", "poll"};
    if (model == "hybrid") args.insert(args.end(), {"--threads", "2"});
    return args;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Lab04, ByteCountServer,
                         testing::Values(ModelCase{kLab, "iterative", false, false},
                                         ModelCase{kLab, "fork", true, false}, ModelCase{kLab, "nolock", false, true},
                                         ModelCase{kLab, "flock", false, true}, ModelCase{kLab, "mutex", false, true},
                                         ModelCase{kLab, "pass", false, true}, ModelCase{kLab, "hybrid", false, true}),
                         byte_count_suite::case_name);

// ------------------------------------------------------------------------------------------- the pools

class ProcessPool : public testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Lab04, ProcessPool, testing::Values("nolock", "flock", "mutex", "pass", "hybrid"),
                         [](const auto& info) { return info.param; });

// UNP's "child %ld starting": one line per child, after the listening line and the model line.
TEST_P(ProcessPool, PreforksTheChildrenItWasAskedFor) {
    Process server(pool_args(GetParam(), 4));
    server.wait_for_listening();
    ASSERT_TRUE(server.wait_for_match(std::regex("mode " + GetParam() + ": .*, 4 children")));
    for (int i = 0; i < 4; ++i)
        EXPECT_TRUE(server.wait_for_match(std::regex("child " + std::to_string(i) + R"( starting \(pid \d+\))")));
    EXPECT_TRUE(byte_count_suite::wait_for_children(server, 4));
    EXPECT_EQ(server.out_lines().at(1).rfind("mode " + GetParam() + ": ", 0), 0u);
}

TEST_P(ProcessPool, AKilledChildIsReplacedAndThePoolServesOn) {
    Process server(pool_args(GetParam(), 3));
    const uint16_t port = server.wait_for_listening();
    ASSERT_TRUE(byte_count_suite::wait_for_children(server, 3));
    const auto children = server.children();
    const pid_t victim = children.at(1);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    ASSERT_TRUE(server.wait_for_match(
        std::regex(R"(child \d \(pid )" + std::to_string(victim) + R"(\) killed by SIGKILL: replaced by pid \d+)")));
    EXPECT_TRUE(byte_count_suite::wait_for_children(server, 3)) << "the pool is back to 3, no zombie";
    const auto now = server.children();
    EXPECT_EQ(std::count(now.begin(), now.end(), victim), 0);
    const Result client = run({kClient, "127.0.0.1", std::to_string(port), "4", "25", "4000"}, "", 30s);
    EXPECT_EQ(client.status, 0) << client.err;
    server.signal_group(SIGINT);
    ASSERT_EQ(server.wait_exit(10s), 0);
    server.wait_output_closed();
    const auto summary = byte_count_suite::parse_summary(server.out_lines());
    EXPECT_EQ(summary.worker_lines, 3);
    EXPECT_EQ(summary.total, 100);
    EXPECT_EQ(summary.worker_sum, 100);
}

// The child in accept() is the one holding the lock (flock, mutex). Killed there, it must not freeze the
// pool: the kernel drops its fcntl lock; the robust mutex is recovered by the next child (EOWNERDEAD).
TEST_P(ProcessPool, KillingTheChildInAcceptEvenHoldingTheLockDoesNotFreezeThePool) {
    Process server(pool_args(GetParam(), 3));
    const uint16_t port = server.wait_for_listening();
    ASSERT_TRUE(byte_count_suite::wait_for_children(server, 3));
    for (int round = 0; round < 2; ++round) {
        if (GetParam() == "pass") {  // no child calls accept: the parent does
            const auto children = server.children();
            EXPECT_TRUE(std::none_of(children.begin(), children.end(), in_accept));
            ASSERT_EQ(::kill(server.children().at(0), SIGKILL), 0);
        } else {
            const pid_t holder = waiting_child(server, GetParam());
            ASSERT_GT(holder, 0) << "no child found waiting on the socket (in accept(); hybrid: in poll())";
            ASSERT_EQ(::kill(holder, SIGKILL), 0);
        }
        const std::regex replaced(R"(child \d \(pid \d+\) killed by SIGKILL: replaced by pid \d+)");
        const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
        while (server.count_matching(replaced) < static_cast<size_t>(round + 1) &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(10ms);
        ASSERT_EQ(server.count_matching(replaced), static_cast<size_t>(round + 1));
        ASSERT_TRUE(byte_count_suite::wait_for_children(server, 3));
        Connection connection(port);
        byte_count_suite::expect_reply(connection, 4000);
    }
    const std::regex recovered(R"(child \d: the accept mutex's owner died holding it: recovered \(EOWNERDEAD\))");
    if (GetParam() == "mutex") {
        EXPECT_TRUE(server.wait_for_match(recovered));
    }
    const Result client = run({kClient, "127.0.0.1", std::to_string(port), "3", "20", "100"}, "", 30s);
    EXPECT_EQ(client.status, 0) << client.err;
    server.signal_group(SIGINT);
    ASSERT_EQ(server.wait_exit(10s), 0);
    server.wait_output_closed();
    // Once per death, by the child that locked the mutex next: not again when the server stops.
    EXPECT_EQ(server.count_matching(recovered), GetParam() == "mutex" ? 2u : 0u) << server.out();
}

// Stopping, the child holding the mutex in accept() exits holding it; the next child to lock it gets
// EOWNERDEAD. No child died: the recovery line must not be printed (it was, in about one stop of three).
TEST(Lab04Prefork, StoppingTheMutexPoolReportsNoDeadOwner) {
    for (int round = 0; round < 8; ++round) {
        Process server(pool_args("mutex", 5));
        const uint16_t port = server.wait_for_listening();
        ASSERT_TRUE(byte_count_suite::wait_for_children(server, 5));
        ASSERT_GT(waiting_child(server, "mutex"), 0);
        {
            Connection connection(port);
            byte_count_suite::expect_reply(connection, 10);
        }
        server.signal_group(SIGINT);
        ASSERT_EQ(server.wait_exit(10s), 0);
        server.wait_output_closed();
        EXPECT_EQ(server.out().find("EOWNERDEAD"), std::string::npos) << "round " << round << ":\n" << server.out();
    }
}

// The thundering herd made visible: the summary counts every wake-up of a child waiting for a connection.
// Connections come one at a time, each when every child is asleep: with `nolock --wait poll` all 3
// children wake for each (the herd); with `nolock` all 3 sleep in accept(), and Linux wakes only one of
// them (an exclusive wait: no herd); under a lock only the one in accept() sleeps on the socket, and with
// `mutex` one waiter is woken when it is freed.
class WakeUps : public testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Lab04, WakeUps, testing::Values("nolock", "nolock-poll", "flock", "mutex", "hybrid"),
                         [](const auto& info) {
                             std::string name = info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

TEST_P(WakeUps, TheSummaryCountsTheWakeUpsOfEveryConnection) {
    Process server(pool_args(GetParam(), 3));
    const uint16_t port = server.wait_for_listening();
    ASSERT_TRUE(byte_count_suite::wait_for_children(server, 3));
    auto all_asleep = [&] {
        const auto children = server.children();
        const auto waits = [&](pid_t child) { return waits_on_socket(child, GetParam()); };
        if (GetParam().rfind("nolock", 0) != 0) return std::any_of(children.begin(), children.end(), waits);
        return children.size() == 3 && std::all_of(children.begin(), children.end(), waits);
    };
    const int connections = 10;
    for (int i = 0; i < connections; ++i) {
        ASSERT_TRUE(wait_until(all_asleep)) << "connection " << i << ": the children are not all waiting";
        Connection connection(port);
        byte_count_suite::expect_reply(connection, 10);
        connection.shutdown_write();
        EXPECT_EQ(connection.read_all(), "");  // the server closed it: the child goes back to waiting
    }
    server.signal_group(SIGINT);
    ASSERT_EQ(server.wait_exit(10s), 0);
    server.wait_output_closed();
    const auto [woken, accepted] = wakeups(server.out_lines());
    const auto summary = byte_count_suite::parse_summary(server.out_lines());
    EXPECT_EQ(accepted, connections) << server.out();
    EXPECT_EQ(summary.total, connections);
    EXPECT_GE(woken, accepted) << "each connection woke at least the child that accepted it";
    if (GetParam() == "nolock-poll") {
        EXPECT_GE(woken, 3 * accepted) << "each connection woke all 3 children asleep in poll()";
    } else if (GetParam() == "nolock") {
        EXPECT_LT(woken, 2 * accepted) << "Linux wakes one of the children asleep in accept(), not all 3";
    } else if (GetParam() == "mutex") {  // (an fcntl lock's release may wake every child waiting for it)
        EXPECT_LT(woken, 3 * accepted) << "one child sleeps on the socket, one waiter is woken per unlock";
    }
}

// Apache's hybrid: each child's line adds up its threads' lines (indented below it), and the children's
// lines add up to the total.
TEST(Lab04Prefork, HybridCountsPerChildAndPerThreadAddUp) {
    Process server({kServer, "0", "3", "--mode", "hybrid", "--threads", "4"});
    const uint16_t port = server.wait_for_listening();
    ASSERT_TRUE(server.wait_for_line(
        "mode hybrid: preforked children of several threads call accept() under an fcntl() lock (between "
        "children) and a mutex (between a child's threads), 4 threads each, 3 children"));
    ASSERT_TRUE(byte_count_suite::wait_for_children(server, 3));
    const Result client = run({kClient, "127.0.0.1", std::to_string(port), "6", "30", "1000"}, "", 60s);
    ASSERT_EQ(client.status, 0) << client.err;
    server.signal_group(SIGINT);
    ASSERT_EQ(server.wait_exit(10s), 0);
    server.wait_output_closed();
    const std::regex child(R"(child (\d): (\d+) connections)");
    const std::regex thread(R"(  child (\d) thread (\d): (\d+) connections)");
    std::vector<long> per_child(3, -1), threads_sum(3, 0), threads_seen(3, 0);
    std::smatch match;
    for (const auto& line : server.out_lines()) {
        if (std::regex_match(line, match, child)) per_child.at(std::stoul(match[1])) = std::stol(match[2]);
        if (std::regex_match(line, match, thread)) {
            threads_sum.at(std::stoul(match[1])) += std::stol(match[3]);
            ++threads_seen.at(std::stoul(match[1]));
        }
    }
    EXPECT_EQ(threads_seen, std::vector<long>(3, 4)) << server.out();
    EXPECT_EQ(per_child, threads_sum) << server.out();
    EXPECT_EQ(per_child[0] + per_child[1] + per_child[2], 180);
    EXPECT_EQ(byte_count_suite::parse_summary(server.out_lines()).total, 180);
}

// Killing the parent outright (SIGKILL: no chance to stop anything) must not leave orphans serving on.
TEST_P(ProcessPool, ChildrenDieWithTheirParent) {
    Process server(pool_args(GetParam(), 3));
    server.wait_for_listening();
    ASSERT_TRUE(byte_count_suite::wait_for_children(server, 3));
    const auto children = server.children();
    server.signal(SIGKILL);
    server.wait_exit();
    // Ended (gone, or a zombie waiting for whoever adopted it to reap it), not serving on.
    const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
    auto ended = [](pid_t pid) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const auto close = text.rfind(')');
        return text.empty() || close == std::string::npos || text.substr(close + 2, 1) == "Z";
    };
    while (!std::all_of(children.begin(), children.end(), ended) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(std::all_of(children.begin(), children.end(), ended)) << "children outlived a killed parent";
}

// A child sent SIGTERM on its own finishes (it is idle: at once) and is replaced like any dead child.
TEST_P(ProcessPool, ASigtermedChildExitsCleanlyAndIsReplaced) {
    Process server(pool_args(GetParam(), 2));
    server.wait_for_listening();
    ASSERT_TRUE(byte_count_suite::wait_for_children(server, 2));
    // The child waiting on the socket (pass: any child). Not one waiting for the lock:
    // ThreadSanitizer holds a signal back while a thread waits in pthread_mutex_lock, until it gets the mutex.
    const pid_t victim = GetParam() == "pass" ? server.children().at(0) : waiting_child(server, GetParam());
    ASSERT_GT(victim, 0);
    ASSERT_EQ(::kill(victim, SIGTERM), 0);
    EXPECT_TRUE(server.wait_for_match(
        std::regex(R"(child \d \(pid )" + std::to_string(victim) + R"(\) exit 0: replaced by pid \d+)")));
    EXPECT_TRUE(byte_count_suite::wait_for_children(server, 2));
}

// ------------------------------------------------------------------------------------------- the lab

TEST(Lab04Prefork, HelpShowsEveryModelAndTheDefaults) {
    const Result server = run({kServer, "--help"});
    EXPECT_EQ(server.status, 0);
    for (const char* text : {"9877", "nolock", "iterative", "fork", "flock", "mutex", "pass", "hybrid", "--threads",
                             "--wait", "--idle-timeout", "--max-clients", "256", "--grace", "--bind"})
        EXPECT_NE(server.out.find(text), std::string::npos) << text;
    const Result client = run({kClient, "--help"});
    EXPECT_EQ(client.status, 0);
    for (const char* text : {"NCHILDREN", "NLOOPS", "NBYTES", "4000", "--requests", "--timeout"})
        EXPECT_NE(client.out.find(text), std::string::npos) << text;
}

TEST(Lab04Prefork, DefaultModelIsNolockAndModelNamesIgnoreCase) {
    {
        Process server({kServer, "0", "2"});
        server.wait_for_listening();
        EXPECT_TRUE(server.wait_for_line("mode nolock: preforked children call accept() with no lock, 2 children"));
    }
    Process server({kServer, "0", "2", "--model", "MUTEX"});  // --model: the old spelling of --mode
    server.wait_for_listening();
    EXPECT_TRUE(server.wait_for_match(std::regex("mode mutex: .*")));
}

TEST(Lab04Prefork, BadArgumentsExitTwoWithOneLine) {
    const std::vector<std::vector<std::string>> bad = {{kServer, "abc"},
                                                       {kServer, "70000"},
                                                       {kServer, "0", "0"},
                                                       {kServer, "0", "2", "--mode", "threads"},
                                                       {kServer, "0", "2", "--idle-timeout", "-1"},
                                                       {kServer, "0", "2", "--max-clients", "0"},
                                                       {kServer, "0", "2", "x"},
                                                       {kServer, "0", "2", "--mode", "hybrid", "--threads", "0"},
                                                       {kClient, "localhost", "9877", "0", "1", "1"},
                                                       {kClient, "localhost", "9877", "1", "1", "0"},
                                                       {kClient, "localhost", "9877", "1", "1", "1048577"},
                                                       {kClient, "localhost", "port"},
                                                       {kClient, "localhost", "9877", "1", "x", "1"}};
    for (const auto& args : bad) {
        const Result result = run(args);
        EXPECT_EQ(result.status, 2) << args.back();
        EXPECT_EQ(lines(result.err).size(), 1u) << result.err;
        EXPECT_TRUE(result.out.empty()) << result.out;
    }
}

TEST(Lab04Prefork, ABusyPortExitsOneNamingThePort) {
    Process first({kServer, "0", "1"});
    const uint16_t port = first.wait_for_listening();
    const Result second = run({kServer, std::to_string(port), "2"});
    EXPECT_EQ(second.status, 1);
    EXPECT_NE(second.err.find(":" + std::to_string(port)), std::string::npos) << second.err;
    EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
}

TEST(Lab04Prefork, ServesOverIpv6) {
    Process server({kServer, "0", "2", "--bind", "::1", "--mode", "pass"});
    const uint16_t port = server.wait_for_listening();
    EXPECT_EQ(server.out_lines().at(0), "listening on [::1]:" + std::to_string(port));
    const Result client = run({kClient, "::1", std::to_string(port), "2", "5", "1000"}, "", 30s);
    EXPECT_EQ(client.status, 0) << client.err;
}

TEST(Lab04LoadClient, NoServerExitsOneSayingWhy) {
    uint16_t free_port;
    {
        Process server({kServer, "0", "1"});
        free_port = server.wait_for_listening();
    }
    const Result result = run({kClient, "127.0.0.1", std::to_string(free_port), "2", "3", "10"}, "", 30s);
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("connect to 127.0.0.1:" + std::to_string(free_port)), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("Connection refused"), std::string::npos) << result.err;
    EXPECT_NE(result.out.find(": 0 connections, 0 bytes, 6 errors, "), std::string::npos) << result.out;
}

// A server that answers short (here: one that closes at once) is an error the client reports and counts.
TEST(Lab04LoadClient, AShortReplyIsAnError) {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listener, 16), 0);
    socklen_t length = sizeof address;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    std::thread closer([listener] {
        for (int i = 0; i < 2; ++i) {
            const int fd = ::accept(listener, nullptr, nullptr);
            if (fd < 0) return;
            char request[16];
            [[maybe_unused]] auto got = ::recv(fd, request, sizeof request, 0);  // "100\n"
            ::send(fd, "error: nope\n", 12, MSG_NOSIGNAL);
            ::close(fd);
        }
    });
    const Result result =
        run({kClient, "127.0.0.1", std::to_string(ntohs(address.sin_port)), "1", "2", "100"}, "", 30s);
    closer.join();
    ::close(listener);
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("asked for 100 bytes, got 12 before the server closed: error: nope"), std::string::npos)
        << result.err;
}
