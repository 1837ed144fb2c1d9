// tests/byte_count_suite.hpp: the one parameterized suite every server model of labs 04_prefork and
// 05_prethread must pass.
//
// Included by test_04_prefork.cpp and test_05_prethread.cpp, each instantiating it over its own models,
// so no model can quietly skip a behaviour: exact byte counts, many concurrent client processes, several
// requests per connection, bad requests, clients vanishing mid-reply, the idle timeout, a lone busy worker
// making others wait, Ctrl-C and SIGTERM summaries whose counts add up, no zombies and no descriptor growth.
// Slides: the lecture "Network Programming" (UNP ch. 30), slides "Server Design Alternatives" to
// "Comparing Multi Process/Multi Thread Designs". Instantiated as Lab04/ByteCountServer.* and
// Lab05/ByteCountServer.*.
#pragma once

#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <dirent.h>
#include <fstream>
#include <numeric>
#include <ostream>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace byte_count_suite {

using namespace harness;

struct ModelCase {
    std::string lab;    // "04_prefork"
    std::string model;  // "nolock"
    bool per_client;    // a worker per connection (fork, thread): --max-clients applies, no per-worker lines
    bool pool;          // a fixed set of workers, one summary line each (hybrid: each child, its threads below)
};

inline void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.lab << " --mode " << c.model; }

inline std::string case_name(const testing::TestParamInfo<ModelCase>& info) { return info.param.model; }

inline std::string server_path(const ModelCase& c) { return program(c.lab, "server"); }
inline std::string client_path(const ModelCase& c) { return program(c.lab, "client"); }

// The server of this model on port 0 with `workers` workers, plus extra options.
// `hybrid` (lab 04's children of several threads): `workers` children of 2 threads each, or one child of one
// thread when the test wants a single worker (the book's starvation, the idle timeout).
inline std::vector<std::string> server_args(const ModelCase& c, int workers, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {server_path(c), "0", std::to_string(workers), "--mode", c.model};
    if (c.model == "hybrid") args.insert(args.end(), {"--threads", workers == 1 ? "1" : "2"});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

inline std::vector<std::string> client_args(const ModelCase& c, uint16_t port, int children, int loops, long bytes,
                                            std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {client_path(c),           "127.0.0.1",           std::to_string(port),
                                     std::to_string(children), std::to_string(loops), std::to_string(bytes)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// Sends a request line and reads the reply of `count` bytes.
inline void expect_reply(Connection& connection, long count) {
    connection.send(std::to_string(count) + "\n");
    const std::string reply = connection.read_exact(static_cast<size_t>(count));
    EXPECT_EQ(reply.size(), static_cast<size_t>(count)) << "reply to a request for " << count << " bytes";
}

// What the server prints on stopping, parsed.
struct Summary {
    int stopped_lines = 0;  // "server stopped by SIG..." lines: exactly one expected
    long total = -1;        // "connections: N in all"
    long worker_sum = 0;    // the per-worker lines ("child 3: 17 connections") added up
    int worker_lines = 0;
    long one_each = -1;  // "children forked: N, ..." / "threads started: N, ..."
    int cpu_lines = 0;
};

inline Summary parse_summary(const std::vector<std::string>& lines) {
    static const std::regex worker(R"(((child|thread) \d+|server): (\d+) connections?)");
    static const std::regex total(R"(connections: (\d+) in all)");
    static const std::regex one_each(R"((children forked|threads started): (\d+), one connection each)");
    static const std::regex cpu(R"(CPU time: user \d+\.\d{3} s, system \d+\.\d{3} s, total \d+\.\d{3} s \(.*\))");
    Summary summary;
    std::smatch match;
    for (const auto& line : lines) {
        if (line.rfind("server stopped by SIG", 0) == 0) ++summary.stopped_lines;
        if (std::regex_match(line, match, worker)) {
            summary.worker_sum += std::stol(match[3]);
            ++summary.worker_lines;
        }
        if (std::regex_match(line, match, total)) summary.total = std::stol(match[1]);
        if (std::regex_match(line, match, one_each)) summary.one_each = std::stol(match[2]);
        if (std::regex_match(line, cpu)) ++summary.cpu_lines;
    }
    return summary;
}

inline int count_fds(pid_t pid) {
    DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (dir == nullptr) return -1;
    int count = 0;
    while (const dirent* entry = ::readdir(dir))
        if (entry->d_name[0] != '.') ++count;
    ::closedir(dir);
    return count;
}

// Waits (with a deadline) until `server` has `n` live, non-zombie children.
// True if some thread of `pid` is blocked in system call `call`, from /proc/PID/task/*/syscall (a hybrid
// child's threads do the accepting and the writing, so its main thread alone would not tell).
inline bool some_thread_blocked_in(pid_t pid, long call) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* dir = ::opendir(tasks.c_str());
    if (dir == nullptr) return false;
    bool found = false;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::ifstream in(tasks + "/" + entry->d_name + "/syscall");
        long number = -1;
        if (in >> number && number == call) found = true;
    }
    ::closedir(dir);
    return found;
}

inline bool wait_for_children(Process& server, size_t n, Duration timeout = 10s) {
    return wait_until([&] { return server.children().size() == n && server.zombie_children().empty(); }, timeout);
}

class ByteCountServer : public testing::TestWithParam<ModelCase> {};

TEST_P(ByteCountServer, RepliesCarryExactlyTheBytesAskedFor) {
    Process server(server_args(GetParam(), 3));
    const uint16_t port = server.wait_for_listening();
    ASSERT_NE(port, 0);
    Connection connection(port);
    for (const long count : {1L, 4000L, 1048576L}) expect_reply(connection, count);
    connection.shutdown_write();
    EXPECT_EQ(connection.read_all(), "") << "nothing beyond the bytes asked for";
}

TEST_P(ByteCountServer, SeveralRequestsOnOneConnection) {
    Process server(server_args(GetParam(), 2));
    const uint16_t port = server.wait_for_listening();
    Connection connection(port);
    connection.send("10\n20\r\n30\n");  // three requests in one segment; a CR before the newline is allowed
    EXPECT_EQ(connection.read_exact(60).size(), 60u);
    expect_reply(connection, 5);
    connection.close();  // the iterative server serves one connection at a time
    const Result client = run(client_args(GetParam(), port, 2, 3, 1000, {"--requests", "4"}), "", 30s);
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_NE(client.out.find(": 6 connections, 24000 bytes, 0 errors, "), std::string::npos) << client.out;
}

// The lecture's load: concurrent client processes, each making connection after connection.
TEST_P(ByteCountServer, TenClientProcessesManyLoopsAllBytesRight) {
    Process server(server_args(GetParam(), 5));
    const uint16_t port = server.wait_for_listening();
    const int loops = sanitized() ? 20 : 100;
    const Result client = run(client_args(GetParam(), port, 10, loops, 4000), "", 60s);
    EXPECT_EQ(client.status, 0) << client.err;
    const std::string expected = "10 children x " + std::to_string(loops) +
                                 " connections x 4000 bytes: " + std::to_string(10 * loops) + " connections, " +
                                 std::to_string(10 * loops * 4000L) + " bytes, 0 errors, ";
    EXPECT_EQ(client.out.rfind(expected, 0), 0u) << client.out;
    EXPECT_TRUE(client.err.empty()) << client.err;
}

TEST_P(ByteCountServer, BadRequestsGetOneErrorLineAndTheServerCarriesOn) {
    Process server(server_args(GetParam(), 2));
    const uint16_t port = server.wait_for_listening();
    const std::vector<std::string> bad = {"0\n",
                                          "-5\n",
                                          "2097152\n",
                                          "1048577\n",
                                          "abc\n",
                                          "\n",
                                          "99999999999999999999\n",
                                          std::string(65536, '7') + "\n"};
    for (const auto& request : bad) {
        Connection connection(port);
        connection.send(request);
        const std::string reply = connection.read_all(5s);
        const auto reply_lines = lines(reply);
        ASSERT_LE(reply_lines.size(), 1u) << "request " << request.substr(0, 20);
        // A 64 KiB line may be cut off by a reset before its error line is read; every other one is answered.
        if (request.size() < 100) {
            ASSERT_EQ(reply_lines.size(), 1u) << "request " << request.substr(0, 20);
            EXPECT_EQ(reply_lines[0].rfind("error: ", 0), 0u) << reply_lines[0];
            EXPECT_EQ(reply.back(), '\n');
        } else if (!reply_lines.empty()) {
            EXPECT_EQ(reply_lines[0], "error: request line longer than 64 bytes");
        }
    }
    {  // a line with no newline, then the client closes its side
        Connection connection(port);
        connection.send("12");
        connection.shutdown_write();
        EXPECT_EQ(connection.read_all(5s), "error: connection closed in the middle of a request\n");
    }
    {  // good requests before a bad one are answered in full
        Connection connection(port);
        connection.send("3\n0\n");
        EXPECT_EQ(connection.read_all(5s).substr(3, 7), "error: ");
    }
    ASSERT_TRUE(server.wait_for_text("error: byte count 0 is out of range"));
    EXPECT_TRUE(server.running());
    Connection good(port);
    expect_reply(good, 4000);
}

// A client that asks for 1 MiB and vanishes without reading: the server's write fails (EPIPE or reset),
// which costs that connection only.
TEST_P(ByteCountServer, AClientVanishingMidReplyCostsOnlyItsConnection) {
    Process server(server_args(GetParam(), 2));
    const uint16_t port = server.wait_for_listening();
    for (int i = 0; i < 3; ++i) {
        Connection quitter(port);
        quitter.send("1048576\n1048576\n1048576\n");  // 3 MiB: more than the socket buffers hold
        quitter.read_exact(1000);
        const linger reset{1, 0};  // close with a reset, the way a crashing client goes
        ::setsockopt(quitter.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        quitter.close();
    }
    ASSERT_TRUE(server.wait_for_text(": vanished"));
    const Result client = run(client_args(GetParam(), port, 2, 10, 100000), "", 30s);
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_TRUE(server.running());
}

TEST_P(ByteCountServer, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
    Process server(server_args(GetParam(), 1, {"--idle-timeout", "1"}));
    const uint16_t port = server.wait_for_listening();
    Connection idle(port);
    expect_reply(idle, 10);  // the timeout counts from the last complete request
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(idle.wait_closed(5s));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
    EXPECT_TRUE(server.wait_for_text("idle for 1 s, closed"));
    // With one worker, the idle client no longer holds it: the next client is served.
    Connection next(port);
    expect_reply(next, 100);
}

// One worker (or --max-clients 1), no idle timeout: the book's servers, starved by one silent client.
// The second client is accepted or queued but not served until the first leaves.
TEST_P(ByteCountServer, WithItsOnlyWorkerBusyTheNextClientWaits) {
    Process server(server_args(GetParam(), 1, {"--idle-timeout", "0", "--max-clients", "1"}));
    const uint16_t port = server.wait_for_listening();
    Connection first(port);
    expect_reply(first, 10);
    Connection second(port);
    second.send("20\n");
    EXPECT_EQ(second.read_exact(20, 700ms).size(), 0u) << "served while the only worker was busy";
    first.close();
    EXPECT_EQ(second.read_exact(20).size(), 20u) << "not served once the worker was free";
    if (GetParam().per_client) {
        EXPECT_TRUE(server.wait_for_text("max-clients 1 reached: new clients wait in the backlog"));
    }
}

TEST_P(ByteCountServer, CtrlCPrintsOneSummaryWhoseCountsAddUp) {
    Process server(server_args(GetParam(), 4));
    const uint16_t port = server.wait_for_listening();
    const Result client = run(client_args(GetParam(), port, 3, 20, 500), "", 30s);
    ASSERT_EQ(client.status, 0) << client.err;
    Connection extra(port);
    expect_reply(extra, 1);
    extra.close();
    server.signal_group(SIGINT);  // as a terminal does: the parent and all its children get it
    ASSERT_EQ(server.wait_exit(10s), 0);
    server.wait_output_closed();
    EXPECT_TRUE(group_gone(server.pid())) << "a child outlived the server";
    const Summary summary = parse_summary(server.out_lines());
    EXPECT_EQ(summary.stopped_lines, 1) << "only the parent prints the summary";
    EXPECT_EQ(server.out().find("grace period over"), std::string::npos) << "idle workers must stop at once";
    EXPECT_EQ(summary.total, 61);
    EXPECT_EQ(summary.cpu_lines, 1);
    if (GetParam().pool) {
        EXPECT_EQ(summary.worker_lines, 4);
        EXPECT_EQ(summary.worker_sum, 61);
    } else if (GetParam().per_client) {
        EXPECT_EQ(summary.one_each, 61);
    } else {
        EXPECT_EQ(summary.worker_sum, 61);
    }
    EXPECT_EQ(server.out_lines().back().rfind("CPU time: ", 0), 0u);
}

// SIGTERM to the server alone (not its children): it stops them itself. A connected client that is between
// requests is closed; nothing is left running.
TEST_P(ByteCountServer, SigtermStopsEverythingEvenWithAClientConnected) {
    Process server(server_args(GetParam(), 2));
    const uint16_t port = server.wait_for_listening();
    Connection connected(port);
    expect_reply(connected, 100);
    server.signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(10s), 0);
    EXPECT_TRUE(connected.wait_closed(2s));
    EXPECT_TRUE(group_gone(server.pid()));
    server.wait_output_closed();
    const Summary summary = parse_summary(server.out_lines());
    EXPECT_EQ(summary.stopped_lines, 1);
    EXPECT_EQ(summary.total, 1);
    EXPECT_TRUE(server.wait_for_line("server stopped by SIGTERM"));
}

// 1,000 connections leave no zombie and no extra descriptor behind, in the server or its workers.
TEST_P(ByteCountServer, NoZombiesAndNoDescriptorGrowthAfterAThousandConnections) {
    Process server(server_args(GetParam(), 3));
    const uint16_t port = server.wait_for_listening();
    ASSERT_EQ(run(client_args(GetParam(), port, 2, 10, 100), "", 30s).status, 0);  // warm up every worker
    const size_t workers = GetParam().pool && GetParam().lab == "04_prefork" ? 3 : 0;
    ASSERT_TRUE(wait_for_children(server, workers));
    // The warm-up's last connections may still be closing in the server: the count it settles at is the
    // baseline (the same for 200 ms on end; the server has no client left, so nothing else can change it).
    int before = server.open_fd_count();
    const auto settle_deadline = std::chrono::steady_clock::now() + scaled(5s);
    for (auto stable_since = std::chrono::steady_clock::now();
         std::chrono::steady_clock::now() - stable_since < 200ms &&
         std::chrono::steady_clock::now() < settle_deadline;) {
        std::this_thread::sleep_for(20ms);  // polling: there is no event to wait on
        if (const int now = server.open_fd_count(); now != before) {
            before = now;
            stable_since = std::chrono::steady_clock::now();
        }
    }
    std::vector<int> children_before;
    for (const pid_t child : server.children()) children_before.push_back(count_fds(child));
    const int per_child = sanitized() ? 100 : 250;
    const Result client = run(client_args(GetParam(), port, 4, per_child, 100), "", 120s);
    ASSERT_EQ(client.status, 0) << client.err;
    EXPECT_TRUE(wait_for_children(server, workers)) << "zombies or extra children left";
    // The client has its replies; the server may still be closing the last connections: wait for it.
    std::vector<int> children_after;
    const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
    for (;;) {
        children_after.clear();
        for (const pid_t child : server.children()) children_after.push_back(count_fds(child));
        if ((server.open_fd_count() == before && children_after == children_before) ||
            std::chrono::steady_clock::now() > deadline)
            break;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(server.open_fd_count(), before);
    EXPECT_EQ(children_after, children_before);
}

}  // namespace byte_count_suite
