// Tests of lab 05_prethread, run as a user runs it: the real ./server (every --mode) and the shared load
// client.
//
// Slides: the lecture "Network Programming" (UNP ch. 30), slides "Prethreading" through "Comparing Multi
// Process/Multi Thread Designs" (per-thread accept with a mutex, main-thread accept into clifd[]).
// Suites: Lab05/ByteCountServer.* (the byte-count suite over every mode, as for lab 04), Lab05/ThreadPool.*
// (the pools' threads made up front and kept), Lab05Prethread.* (thread per client, the bounded array, the
// command line).
// Demo: ./server 9877 5 --mode main, then ./client localhost 9877 5 500 4000, then Ctrl-C the server.
// Watch for: the byte-count suite (byte_count_suite.hpp) runs over every model, exactly as for lab 04;
// the tests below are the threads' own: the pool's size, the bounded array, joined threads.
#include "tests/byte_count_suite.hpp"

#include <fstream>
#include <sys/syscall.h>

using namespace harness;

namespace {

const std::string kLab = "05_prethread";
const std::string kServer = program(kLab, "server");
const std::string kClient = program(kLab, "client");

// What system call the main thread of `pid` is blocked in (/proc/PID/syscall's first field), or -1.
long blocked_in(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
    long number = -1;
    in >> number;
    return in ? number : -1;
}

}  // namespace

using byte_count_suite::ByteCountServer;
using byte_count_suite::ModelCase;
INSTANTIATE_TEST_SUITE_P(Lab05, ByteCountServer,
                         testing::Values(ModelCase{kLab, "thread", true, false}, ModelCase{kLab, "accept", false, true},
                                         ModelCase{kLab, "main", false, true}),
                         byte_count_suite::case_name);

class ThreadPool : public testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Lab05, ThreadPool, testing::Values("accept", "main"),
                         [](const auto& info) { return info.param; });

// The slide's "thread %d starting": the pool is made at start-up, one thread per slot, and stays that size.
TEST_P(ThreadPool, CreatesItsThreadsUpFrontAndKeepsThem) {
    Process server({kServer, "0", "4", "--mode", GetParam()});
    const uint16_t port = server.wait_for_listening();
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(server.wait_for_line("thread " + std::to_string(i) + " starting"));
    if (exact_thread_counts()) {
        EXPECT_EQ(server.thread_count(), 5) << "the main thread and four workers";
    }
    const Result client = run({kClient, "127.0.0.1", std::to_string(port), "5", "20", "1000"}, "", 30s);
    EXPECT_EQ(client.status, 0) << client.err;
    if (exact_thread_counts()) {
        EXPECT_EQ(server.thread_count(), 5) << "no thread per connection";
    }
    EXPECT_TRUE(server.children().empty()) << "threads, not processes";
}

// The thread-per-client model ends each thread with its client, and joins it.
TEST(Lab05Prethread, ThreadPerClientJoinsEveryFinishedThread) {
    Process server({kServer, "0", "--mode", "thread"});
    const uint16_t port = server.wait_for_listening();
    {
        Connection a(port), b(port), c(port);
        byte_count_suite::expect_reply(a, 10);
        byte_count_suite::expect_reply(b, 10);
        byte_count_suite::expect_reply(c, 10);
        if (exact_thread_counts()) {
            EXPECT_EQ(server.thread_count(), 4) << "the main thread and one thread per connected client";
        }
    }
    // Finished threads are joined when the next client comes: one new thread, the three old ones gone.
    const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
    Connection d(port);
    byte_count_suite::expect_reply(d, 10);
    if (exact_thread_counts()) {
        while (server.thread_count() != 2 && std::chrono::steady_clock::now() < deadline) {
            Connection poke(port);
            byte_count_suite::expect_reply(poke, 1);
        }
        EXPECT_LE(server.thread_count(), 3);
    }
}

// The main model's shared array is bounded: with the only worker busy and the array full, the main thread
// waits (and says so) instead of overwriting a slot or quitting as the slide's err_quit does; every client
// is served in the end.
TEST(Lab05Prethread, AFullArrayMakesTheMainThreadWaitNeverOverwrite) {
    Process server({kServer, "0", "1", "--mode", "main", "--array-size", "2", "--idle-timeout", "0"});
    const uint16_t port = server.wait_for_listening();
    Connection busy(port);
    byte_count_suite::expect_reply(busy, 10);  // the only worker now serves `busy`
    std::vector<std::unique_ptr<Connection>> waiting;
    for (int i = 0; i < 4; ++i) {
        waiting.push_back(std::make_unique<Connection>(port));
        waiting.back()->send(std::to_string(100 + i) + "\n");
        waiting.back()->shutdown_write();
    }
    ASSERT_TRUE(server.wait_for_line("the array of 2 descriptors is full: the main thread waits for a worker"));
    EXPECT_TRUE(server.running());
    busy.close();
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(waiting[static_cast<size_t>(i)]->read_all().size(), static_cast<size_t>(100 + i)) << "client " << i;
    }
    server.signal(SIGINT);
    ASSERT_EQ(server.wait_exit(10s), 0);
    server.wait_output_closed();
    const auto summary = byte_count_suite::parse_summary(server.out_lines());
    EXPECT_EQ(summary.total, 5);
    EXPECT_EQ(summary.worker_sum, 5);
}

// The README's exercise "how often does the main thread wait?": the summary counts every wait for a free
// slot, not only the first (which the log says once). Two rounds, each with the only worker kept busy and
// one client more than the array holds: exactly one wait per round.
TEST(Lab05Prethread, TheSummaryCountsEveryTimeTheMainThreadWaitedForAFreeSlot) {
    Process server({kServer, "0", "1", "--mode", "main", "--array-size", "2", "--idle-timeout", "0"});
    const uint16_t port = server.wait_for_listening();
    for (int round = 0; round < 2; ++round) {
        Connection busy(port);
        byte_count_suite::expect_reply(busy, 10);  // the only worker now serves `busy`: the array fills up
        std::vector<std::unique_ptr<Connection>> waiting;
        for (int i = 0; i < 3; ++i) {  // two fit in the array; the third makes the main thread wait
            waiting.push_back(std::make_unique<Connection>(port));
            waiting.back()->send("100\n");
            waiting.back()->shutdown_write();
        }
        // The main thread has stored two and waits (on a condition variable: in futex()) to store the third.
        EXPECT_TRUE(wait_until([&] { return blocked_in(server.pid()) == SYS_futex; })) << "round " << round;
        busy.close();
        for (auto& connection : waiting) EXPECT_EQ(connection->read_all().size(), 100u);
    }
    server.signal(SIGINT);
    ASSERT_EQ(server.wait_exit(10s), 0);
    server.wait_output_closed();
    EXPECT_EQ(server.count_matching(std::regex("the main thread waited for a free slot 2 times")), 1u) << server.out();
    const auto summary = byte_count_suite::parse_summary(server.out_lines());
    EXPECT_EQ(summary.total, 8);
    EXPECT_EQ(summary.worker_sum, 8);
}

// Ctrl-C while the main thread waits on a full array: the workers stop, the array drains, all is joined.
TEST(Lab05Prethread, CtrlCWhileTheArrayIsFullStillStopsEverything) {
    Process server({kServer, "0", "1", "--mode", "main", "--array-size", "1", "--idle-timeout", "0"});
    const uint16_t port = server.wait_for_listening();
    Connection busy(port);
    byte_count_suite::expect_reply(busy, 10);
    Connection queued(port), blocked(port);
    ASSERT_TRUE(server.wait_for_line("the array of 1 descriptors is full: the main thread waits for a worker"));
    server.signal_group(SIGINT);
    ASSERT_EQ(server.wait_exit(10s), 0);
    EXPECT_TRUE(busy.wait_closed(2s));
    EXPECT_TRUE(server.wait_for_line("server stopped by SIGINT"));
}

TEST(Lab05Prethread, HelpShowsEveryModelAndTheDefaults) {
    const Result server = run({kServer, "--help"});
    EXPECT_EQ(server.status, 0);
    for (const char* text :
         {"9877", "thread", "accept", "main", "--idle-timeout", "--max-clients", "256", "--array-size", "32", "--bind"})
        EXPECT_NE(server.out.find(text), std::string::npos) << text;
    EXPECT_EQ(run({kClient, "--help"}).status, 0);
}

TEST(Lab05Prethread, DefaultModelIsAccept) {
    Process server({kServer, "0", "3"});
    server.wait_for_listening();
    EXPECT_TRUE(server.wait_for_line("mode accept: prethreaded, each thread calls accept() under a mutex, 3 threads"));
}

TEST(Lab05Prethread, BadArgumentsExitTwoWithOneLine) {
    const std::vector<std::vector<std::string>> bad = {{kServer, "abc"},
                                                       {kServer, "0", "0"},
                                                       {kServer, "0", "2", "--mode", "fork"},
                                                       {kServer, "0", "2", "--array-size", "0"},
                                                       {kServer, "0", "2", "--idle-timeout", "x"},
                                                       {kClient, "localhost", "9877", "1", "1", "2000000"}};
    for (const auto& args : bad) {
        const Result result = run(args);
        EXPECT_EQ(result.status, 2) << args.back();
        EXPECT_EQ(lines(result.err).size(), 1u) << result.err;
    }
}

TEST(Lab05Prethread, ABusyPortExitsOneNamingThePort) {
    Process first({kServer, "0", "1"});
    const uint16_t port = first.wait_for_listening();
    const Result second = run({kServer, std::to_string(port), "2"});
    EXPECT_EQ(second.status, 1);
    EXPECT_NE(second.err.find(":" + std::to_string(port)), std::string::npos) << second.err;
}

// One load client for both labs: 05's ./client is built from 04's client.cpp and behaves the same.
TEST(Lab05Prethread, TheLoadClientIsLab04s) {
    const Result mine = run({kClient, "--help"});
    const Result lab04 = run({program("04_prefork", "client"), "--help"});
    EXPECT_EQ(mine.out, lab04.out);
}
