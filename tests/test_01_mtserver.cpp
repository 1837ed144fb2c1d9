// Tests of 01_mtserver, run as a user runs it: the real ./server, ./client, ./stopflag, ./counter and
// ./prodcons processes.
//
// Slides: the lecture "Multithreaded Servers" (MCS 275 lecture 32), slides "Waiting for Data from 3 Clients"
// (the transcript) and "Summary + Assignments" (assignments 1 and 2); the lecture "Network Programming",
// slides "Using Mutex" and "Using Condition Variables" (counter, prodcons).
// Suites: Lab01MtServer (the server: the slide's transcript, the prompt, --stop, long and split messages,
// signals, usage errors), Lab01MtClient (the client), Lab01StopFlag (assignment 1), Lab01Counter and
// Lab01ProdCons (the mutex and condition-variable programs). The fault suites are in test_faults_echo.cpp
// (Lab01/FaultsMtServers, Lab01/FaultsMtServersSignals).
#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <regex>

using namespace harness;

namespace {

const std::string kServer = program("01_mtserver", "server");
const std::string kClient = program("01_mtserver", "client");
const std::string kStopflag = program("01_mtserver", "stopflag");

std::vector<std::string> client_args(uint16_t port) { return {kClient, "localhost", std::to_string(port)}; }

// The handler number in "N accepted request from 127.0.0.1:PORT" for the client whose local port is `port`.
std::string handler_of(Process& server, uint16_t client_port) {
    const std::regex accepted("(\\d+) accepted request from 127\\.0\\.0\\.1:" + std::to_string(client_port));
    const auto line = server.wait_for_match(accepted);
    if (!line) return "?";
    return line->substr(0, line->find(' '));
}

// Index of the first stdout line equal to `line`, or -1.
int index_of(const std::vector<std::string>& all, const std::string& line) {
    for (size_t i = 0; i < all.size(); ++i)
        if (all[i] == line) return static_cast<int>(i);
    return -1;
}

}  // namespace

// The slide: three clients connect, A first, B and C after; B and C send while A still types, and the
// server reports each message from the handler that accepted it, in the order the messages arrive.
TEST(Lab01MtServer, SlideTranscriptNoClientBlocksAnother) {
    Process server({kServer, "0", "3"});
    const uint16_t port = server.wait_for_listening();
    ASSERT_NE(port, 0);
    server.wait_for_line("server is ready for 3 clients");
    server.wait_for_line("server starts 3 threads");

    Process a(client_args(port), {.name = "client A"});
    ASSERT_TRUE(a.wait_for_text("client is connected\nGive message : "));
    // `localhost`: 127.0.0.1, or ::1 where /etc/hosts lists it first (Debian, Ubuntu).
    const std::regex first_accept("(\\d) accepted request from (127\\.0\\.0\\.1|\\[::1\\]):\\d+");
    const auto a_line = server.wait_for_match(first_accept);
    ASSERT_TRUE(a_line);
    const std::string handler_a = a_line->substr(0, 1);

    Process b(client_args(port), {.name = "client B"});
    ASSERT_TRUE(b.wait_for_text("Give message : "));
    Process c(client_args(port), {.name = "client C"});
    ASSERT_TRUE(c.wait_for_text("Give message : "));
    ASSERT_TRUE(server.wait_for_text(" waits for data\n"));

    b.write("this is B\n");
    EXPECT_EQ(b.wait_exit(), 0);
    // B's handler prints before C types: a client exiting does not mean its handler has printed yet.
    ASSERT_TRUE(server.wait_for_match(std::regex("\\d received this is B")));
    c.write("this is C\n");
    EXPECT_EQ(c.wait_exit(), 0);
    // B and C are served although A connected first and has sent nothing yet.
    ASSERT_TRUE(server.wait_for_match(std::regex("\\d received this is C")));
    EXPECT_TRUE(a.running());
    a.write("this is A\n");
    EXPECT_EQ(a.wait_exit(), 0);
    EXPECT_EQ(server.wait_exit(), 0);

    // Each message comes from the handler that accepted its client, and in the order sent.
    const auto all = server.out_lines();
    EXPECT_EQ(all.at(0).rfind("listening on [::]:", 0), 0u);
    const int got_b = static_cast<int>(server.count_matching(std::regex("\\d received this is B")));
    EXPECT_EQ(got_b, 1);
    int pos_a = index_of(all, handler_a + " received this is A");
    EXPECT_GE(pos_a, 0) << "A's message must be reported by handler " << handler_a;
    int pos_b = -1, pos_c = -1;
    for (size_t i = 0; i < all.size(); ++i) {
        if (std::regex_match(all[i], std::regex("\\d received this is B"))) pos_b = static_cast<int>(i);
        if (std::regex_match(all[i], std::regex("\\d received this is C"))) pos_c = static_cast<int>(i);
    }
    EXPECT_LT(pos_b, pos_c);
    EXPECT_LT(pos_c, pos_a);
    EXPECT_EQ(server.count_matching(std::regex("[012] accepted request from (127\\.0\\.0\\.1|\\[::1\\]):\\d+")), 3u);
    EXPECT_EQ(server.count_matching(std::regex("[012] waits for data")), 3u);
    // The clients' side of the slide, with the typed message echoed since stdin is a pipe.
    EXPECT_EQ(b.out(), "client is connected\nGive message : this is B\n");
}

// Each message is matched to its handler by the client's own address, as printed by the server.
TEST(Lab01MtServer, MessagesComeFromTheHandlerThatAcceptedTheClient) {
    Process server({kServer, "0", "2"});
    const uint16_t port = server.wait_for_listening();
    Connection first(port), second(port);
    const std::string h1 = handler_of(server, first.local_port());
    const std::string h2 = handler_of(server, second.local_port());
    EXPECT_NE(h1, h2);
    second.send("second\n");
    ASSERT_TRUE(server.wait_for_line(h2 + " received second"));
    first.send("first\n");
    ASSERT_TRUE(server.wait_for_line(h1 + " received first"));
    EXPECT_EQ(server.wait_exit(), 0);
}

TEST(Lab01MtServer, PromptsForTheNumberOfClientsAfterTheListeningLine) {
    Process server({kServer, "0"});
    const uint16_t port = server.wait_for_listening();
    ASSERT_TRUE(server.wait_for_text("give the number of clients : "));
    server.write("1\n");
    ASSERT_TRUE(server.wait_for_line("server is ready for 1 client"));
    Process client(client_args(port));
    ASSERT_TRUE(client.wait_for_text("Give message : "));
    client.write("hello from stdin\n");
    EXPECT_EQ(client.wait_exit(), 0);
    server.wait_for_line("0 received hello from stdin");
    EXPECT_EQ(server.wait_exit(), 0);
}

TEST(Lab01MtServer, ABadAnswerToThePromptIsAUsageError) {
    for (const std::string answer : {"abc\n", "0\n", ""}) {
        const Result result = run({kServer, "0"}, answer);
        EXPECT_EQ(result.status, 2) << "answer " << answer;
        EXPECT_EQ(lines(result.err).size(), 1u) << result.err;
        EXPECT_NE(result.err.find("server: "), std::string::npos);
    }
}

// Assignment 2: a client sending "stop" stops every handler, the one blocked in recv and the one blocked
// in accept alike, and the server exits promptly having joined them all.
TEST(Lab01MtServer, StopMessageStopsEveryHandler) {
    Process server({kServer, "0", "3", "--stop"});
    const uint16_t port = server.wait_for_listening();
    Connection silent(port);  // a client that connects and never sends: its handler blocks in recv
    const std::string blocked_in_recv = handler_of(server, silent.local_port());
    ASSERT_TRUE(server.wait_for_line(blocked_in_recv + " waits for data"));

    const Result stopper = run({kClient, "localhost", std::to_string(port), "--message", "stop"});
    EXPECT_EQ(stopper.status, 0);
    ASSERT_EQ(server.wait_exit(5s), 0);
    EXPECT_TRUE(server.wait_for_line(blocked_in_recv + " stops (was waiting for data)"));
    EXPECT_EQ(server.count_matching(std::regex("\\d stops \\(was waiting for a client\\)")), 1u);
    EXPECT_EQ(server.count_matching(std::regex("\\d received stop")), 1u);
    EXPECT_EQ(server.count_matching(std::regex("\\d tells every handler to stop")), 1u);
    EXPECT_TRUE(silent.wait_closed(1s)) << "the silent client's connection is closed when its handler stops";
}

// Without --stop, "stop" is an ordinary message.
TEST(Lab01MtServer, StopIsAnOrdinaryMessageWithoutTheOption) {
    Process server({kServer, "0", "2"});
    const uint16_t port = server.wait_for_listening();
    EXPECT_EQ(run({kClient, "localhost", std::to_string(port), "-m", "stop"}).status, 0);
    ASSERT_TRUE(server.wait_for_match(std::regex("\\d received stop")));
    EXPECT_TRUE(server.running());
    EXPECT_EQ(run({kClient, "localhost", std::to_string(port), "-m", "last"}).status, 0);
    EXPECT_EQ(server.wait_exit(), 0);
    EXPECT_EQ(server.count_matching(std::regex("\\d stops.*")), 0u);
}

TEST(Lab01MtServer, AClientThatClosesWithoutSendingCostsOnlyItsHandler) {
    Process server({kServer, "0", "2"});
    const uint16_t port = server.wait_for_listening();
    {
        Connection quitter(port);
        handler_of(server, quitter.local_port());
    }
    ASSERT_TRUE(server.wait_for_match(std::regex("\\d received nothing \\(the client closed without sending\\)")));
    EXPECT_EQ(run({kClient, "localhost", std::to_string(port), "-m", "still served"}).status, 0);
    EXPECT_TRUE(server.wait_for_match(std::regex("\\d received still served")));
    EXPECT_EQ(server.wait_exit(), 0);
}

// The slide's handler receives 80 bytes at a time; a longer message must still arrive whole.
TEST(Lab01MtServer, AMessageLongerThanOneBufferArrivesWhole) {
    Process server({kServer, "0", "1"});
    const uint16_t port = server.wait_for_listening();
    std::string message;
    for (int i = 0; message.size() < 5000; ++i) message += "word" + std::to_string(i) + " ";
    EXPECT_EQ(run({kClient, "localhost", std::to_string(port), "--message", message}).status, 0);
    EXPECT_TRUE(server.wait_for_line("0 received " + message));
    EXPECT_EQ(server.wait_exit(), 0);
}

TEST(Lab01MtServer, AMessageSentInPiecesIsOneMessage) {
    Process server({kServer, "0", "1"});
    const uint16_t port = server.wait_for_listening();
    Connection slow(port);
    server.wait_for_line("0 waits for data");
    slow.send("this is ");
    slow.send("in two parts\n");
    EXPECT_TRUE(server.wait_for_line("0 received this is in two parts"));
    EXPECT_EQ(server.wait_exit(), 0);
}

TEST(Lab01MtServer, SigintWhileHandlersWaitJoinsThemAllAndExitsZero) {
    Process server({kServer, "0", "3"});
    const uint16_t port = server.wait_for_listening();
    Connection idle(port);
    const std::string in_recv = handler_of(server, idle.local_port());
    ASSERT_TRUE(server.wait_for_line(in_recv + " waits for data"));
    if (exact_thread_counts()) {
        EXPECT_TRUE(server.wait_for_thread_count(4)) << "main and three handlers";
    }
    server.signal_group(SIGINT);
    ASSERT_EQ(server.wait_exit(5s), 0);
    EXPECT_TRUE(server.wait_for_line(in_recv + " stops (was waiting for data)"));
    EXPECT_EQ(server.count_matching(std::regex("\\d stops \\(was waiting for a client\\)")), 2u);
    EXPECT_TRUE(server.wait_for_line("server stopped by SIGINT, every handler joined"));
}

TEST(Lab01MtServer, SigtermStopsItToo) {
    Process server({kServer, "0", "2"});
    server.wait_for_listening();
    server.wait_for_line("server starts 2 threads");
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(5s), 0);
    EXPECT_TRUE(server.wait_for_line("server stopped by SIGTERM, every handler joined"));
}

TEST(Lab01MtServer, ServesOverIpv6) {
    Process server({kServer, "0", "1", "--bind", "::1"});
    const uint16_t port = server.wait_for_listening();
    EXPECT_EQ(server.out_lines().at(0), "listening on [::1]:" + std::to_string(port));
    EXPECT_EQ(run({kClient, "::1", std::to_string(port), "-m", "over v6"}).status, 0);
    EXPECT_TRUE(server.wait_for_line("0 received over v6"));
    EXPECT_TRUE(server.wait_for_text("0 accepted request from [::1]:"));
    EXPECT_EQ(server.wait_exit(), 0);
}

TEST(Lab01MtServer, ABusyPortExitsOneNamingThePort) {
    Process first({kServer, "0", "1"});
    const uint16_t port = first.wait_for_listening();
    const Result second = run({kServer, std::to_string(port), "1"});
    EXPECT_EQ(second.status, 1);
    EXPECT_NE(second.err.find(":" + std::to_string(port)), std::string::npos) << second.err;
    EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
}

TEST(Lab01MtServer, BadArgumentsExitTwoWithOneLine) {
    const std::vector<std::vector<std::string>> bad = {{kServer, "abc"},
                                                       {kServer, "70000"},
                                                       {kServer, "-1"},
                                                       {kServer, "0", "0"},
                                                       {kServer, "0", "x"},
                                                       {kServer, "0", "1", "extra"},
                                                       {kServer, "--no-such-option"},
                                                       {kClient, "localhost", "port"},
                                                       {kClient, "localhost", "65536"},
                                                       {kStopflag, "--interval-ms", "-5"}};
    for (const auto& args : bad) {
        const Result result = run(args);
        EXPECT_EQ(result.status, 2) << args.back();
        EXPECT_EQ(lines(result.err).size(), 1u) << result.err;
        EXPECT_TRUE(result.out.empty()) << result.out;
    }
}

TEST(Lab01MtServer, HelpExitsZeroAndShowsTheDefaults) {
    const Result server = run({kServer, "--help"});
    EXPECT_EQ(server.status, 0);
    EXPECT_NE(server.out.find("11267"), std::string::npos);
    EXPECT_NE(server.out.find("--stop"), std::string::npos);
    const Result client = run({kClient, "--help"});
    EXPECT_EQ(client.status, 0);
    EXPECT_NE(client.out.find("--message"), std::string::npos);
}

TEST(Lab01MtClient, NoServerExitsOneSayingWhy) {
    uint16_t free_port;
    {
        Process server({kServer, "0", "1"});
        free_port = server.wait_for_listening();
    }  // stopped: nothing listens there now
    const Result result = run({kClient, "127.0.0.1", std::to_string(free_port), "-m", "hi"});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("connect to 127.0.0.1:" + std::to_string(free_port)), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("Connection refused"), std::string::npos) << result.err;
}

// --stop ends the server while a client sits at its prompt: once its message is typed, the client says the
// server closed the connection (not `shutdown: Transport endpoint is not connected`), and exits 1.
TEST(Lab01MtClient, AClientAtItsPromptWhenTheServerStopsSaysTheServerClosedTheConnection) {
    Process server({kServer, "0", "2", "--stop"});
    const uint16_t port = server.wait_for_listening();
    Process waiting(client_args(port));
    ASSERT_TRUE(waiting.wait_for_text("Give message : "));
    ASSERT_TRUE(server.wait_for_match(std::regex("\\d waits for data")));
    EXPECT_EQ(run({kClient, "localhost", std::to_string(port), "--message", "stop"}).status, 0);
    EXPECT_EQ(server.wait_exit(), 0);
    waiting.write("hello\n");
    EXPECT_EQ(waiting.wait_exit(), 1);
    EXPECT_EQ(lines(waiting.err()),
              std::vector<std::string>{"client: the server closed the connection: 'hello' was not sent"});
}

TEST(Lab01MtClient, EndOfInputAtThePromptClosesWithoutSending) {
    Process server({kServer, "0", "1"});
    const uint16_t port = server.wait_for_listening();
    const Result client = run(client_args(port), "");
    EXPECT_EQ(client.status, 0);
    EXPECT_TRUE(server.wait_for_line("0 received nothing (the client closed without sending)"));
    EXPECT_EQ(server.wait_exit(), 0);
}

// Assignment 1: one thread asks, two busy-wait on the shared flag; "n" stops all three.
TEST(Lab01StopFlag, AnsweringNStopsAllThreeThreads) {
    Process stopflag({kStopflag});
    ASSERT_TRUE(stopflag.wait_for_text("continue ? (y/n) "));
    ASSERT_TRUE(stopflag.wait_for_line("thread 1 busy waits on the shared flag"));
    ASSERT_TRUE(stopflag.wait_for_line("thread 2 busy waits on the shared flag"));
    if (exact_thread_counts()) {
        EXPECT_TRUE(stopflag.wait_for_thread_count(4));
    }
    stopflag.write("y\n");
    ASSERT_TRUE(stopflag.wait_for_text("continue ? (y/n) y\ncontinue ? (y/n) "));
    EXPECT_TRUE(stopflag.running()) << "y means continue";
    stopflag.write("maybe\n");
    ASSERT_TRUE(stopflag.wait_for_line("please answer y or n"));
    stopflag.write("n\n");
    EXPECT_EQ(stopflag.wait_exit(), 0);
    EXPECT_TRUE(stopflag.wait_for_line("thread 0 sets the flag and stops"));
    EXPECT_EQ(stopflag.count_matching(std::regex("thread [12] stops after \\d+ checks")), 2u);
    const auto all = stopflag.out_lines();
    EXPECT_EQ(all.back(), "all threads stopped");
}

TEST(Lab01StopFlag, EndOfInputStopsAllThreeThreads) {
    const Result result = run({kStopflag, "--interval-ms", "0"}, "y\ny\n");
    EXPECT_EQ(result.status, 0);
    EXPECT_NE(result.out.find("thread 1 stops after "), std::string::npos);
    EXPECT_NE(result.out.find("thread 2 stops after "), std::string::npos);
    EXPECT_NE(result.out.find("all threads stopped"), std::string::npos);
}

namespace {

const std::string kCounter = program("01_mtserver", "counter");
const std::string kProdcons = program("01_mtserver", "prodcons");

// The numbers in a line such as "counter = 9876 (expected 10000, ...": {9876, 10000}.
std::pair<long, long> counter_totals(const std::string& out) {
    std::smatch match;
    static const std::regex totals(R"(counter = (\d+) \(expected (\d+))");
    if (!std::regex_search(out, match, totals)) return {-1, -1};
    return {std::stol(match[1]), std::stol(match[2])};
}

}  // namespace

// "Using Mutex": two threads, NLOOP = 5000 each, under the mutex: never an update lost.
TEST(Lab01Counter, WithTheMutexTheTotalIsExact) {
    // A yield under the mutex per increment: seconds of run time on a loaded machine, hence the deadlines.
    const Result slide = run({kCounter}, "", scaled(60s));
    EXPECT_EQ(slide.status, 0);
    EXPECT_EQ(slide.out, "counter = 10000 (expected 10000, with the mutex)\n");
    const Result more = run({kCounter, "--threads", "4", "--loops", "20000"}, "", scaled(60s));
    EXPECT_EQ(counter_totals(more.out), std::make_pair(80000L, 80000L)) << more.out;
}

// The slide's printf: every value from 1 to NLOOP x 2 is printed exactly once, by one thread or the other.
TEST(Lab01Counter, PrintShowsEveryValueOnceUnderTheMutex) {
    const Result result = run({kCounter, "--loops", "50", "--print"});
    EXPECT_EQ(result.status, 0);
    std::vector<int> seen(101, 0);
    for (const auto& line : lines(result.out)) {
        std::smatch match;
        if (std::regex_match(line, match, std::regex(R"([01]: (\d+))"))) ++seen.at(std::stoul(match[1]));
    }
    for (int value = 1; value <= 100; ++value) EXPECT_EQ(seen[value], 1) << "value " << value;
}

// Without the mutex the program must say how many updates were lost, and the total can only fall short.
TEST(Lab01Counter, WithoutTheMutexTheTotalIsReportedHonestly) {
    const Result result = run({kCounter, "--no-mutex"});
    EXPECT_EQ(result.status, 0);
    const auto [total, expected] = counter_totals(result.out);
    EXPECT_EQ(expected, 10000);
    EXPECT_GT(total, 0);
    EXPECT_LE(total, expected);
    if (total < expected) {
        EXPECT_NE(result.out.find(std::to_string(expected - total) + " updates lost, without the mutex"),
                  std::string::npos)
            << result.out;
    }
}

// "Using Condition Variables": the sleeping consumer looks at avail about once per unit; the polling one
// looks at it over and over while the producer sleeps.
TEST(Lab01ProdCons, TheConditionVariableConsumerDoesNotPoll) {
    const Result sleeping = run({kProdcons, "--units", "20", "--interval-ms", "5"});
    EXPECT_EQ(sleeping.status, 0);
    std::smatch match;
    const std::regex summary(
        "(polling|condition variable) consumer: consumed (\\d+) units, checked avail (\\d+) times, "
        R"(used [0-9.]+ s of CPU\n)");
    ASSERT_TRUE(std::regex_match(sleeping.out, match, summary)) << sleeping.out;
    EXPECT_EQ(match[1], "condition variable");
    EXPECT_EQ(match[2], "20");
    EXPECT_LE(std::stol(match[3]), 3 * 20 + 2) << "woken about once per unit, never spinning";

    const Result polling = run({kProdcons, "--units", "20", "--interval-ms", "5", "--busy"});
    EXPECT_EQ(polling.status, 0);
    ASSERT_TRUE(std::regex_match(polling.out, match, summary)) << polling.out;
    EXPECT_EQ(match[1], "polling");
    EXPECT_EQ(match[2], "20");
    EXPECT_GT(std::stol(match[3]), 20 * 20) << "the polling consumer keeps looking while the producer sleeps";
}
