// Tests of 02_mtnserver: n handler threads for m client requests, with a manager restarting handlers.
//
// Slides: the lecture "Multithreaded Servers" (MCS 275 lecture 32), slide "n Handler Threads for m Client
// Requests" (the running-the-server transcript, restart() and manage()); the condition-variable manager is
// the "ndone" pattern of the lecture "Network Programming" (UNP's threaded web client).
// Demo: ./server 11267 3 7 --poll 2   and   ./client --count 7
// Watch for: exactly m requests handled whatever the interleaving, handlers restarted m - n times, a slow
// client holding only its own handler, Ctrl-C keeping the requests already accepted.
// Suites: Lab02MtnServer (the slide's transcript, the managers, usage errors), Lab02/Managers (every behaviour
// test under both managers, condition variable and the slide's polling), Lab02MtnClient (the client). The
// fault suites are in test_faults_echo.cpp (Lab02/FaultsMtServers, Lab02/FaultsMtServersSignals).
#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <regex>
#include <set>

using namespace harness;

namespace {

const std::string kServer = program("02_mtnserver", "server");
const std::string kClient = program("02_mtnserver", "client");

std::vector<std::string> client_args(uint16_t port, std::vector<std::string> more = {}) {
    std::vector<std::string> args{kClient, "localhost", std::to_string(port)};
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// The numbers k of the "I handled request k" lines, in order.
std::vector<int> handled_numbers(const Process& server) {
    static const std::regex handled("\\d+ handled request (\\d+)");
    std::vector<int> numbers;
    for (const auto& line : server.out_lines()) {
        std::smatch m;
        if (std::regex_match(line, m, handled)) numbers.push_back(std::stoi(m[1]));
    }
    return numbers;
}

std::vector<int> one_to(int m) {
    std::vector<int> all;
    for (int i = 1; i <= m; ++i) all.push_back(i);
    return all;
}

// The handler named in "N accepted request from 127.0.0.1:PORT" for the client whose local port is given.
std::string handler_of(Process& server, uint16_t client_port) {
    const auto line = server.wait_for_match(
        std::regex("(\\d+) accepted request from 127\\.0\\.0\\.1:" + std::to_string(client_port)));
    return line ? line->substr(0, line->find(' ')) : "?";
}

// "server handled M requests (per handler 0: a, 1: b, ...)": the per-handler counts must add up to M.
void expect_summary_adds_up(const Process& server, int m) {
    const auto all = server.out_lines();
    ASSERT_FALSE(all.empty());
    const std::string& last = all.back();
    std::smatch match;
    ASSERT_TRUE(std::regex_match(last, match, std::regex("server handled (\\d+) requests? \\(per handler (.*)\\)")))
        << last;
    EXPECT_EQ(std::stoi(match[1]), m);
    int sum = 0;
    const std::string counts = match[2];
    const std::regex count("\\d+: (\\d+)");
    for (auto it = std::sregex_iterator(counts.begin(), counts.end(), count); it != std::sregex_iterator(); ++it)
        sum += std::stoi((*it)[1]);
    EXPECT_EQ(sum, m) << last;
}

// The two managers: the default (condition variable) and the slide's polling one.
struct Manager {
    std::string name;
    std::vector<std::string> options;
};
void PrintTo(const Manager& manager, std::ostream* out) { *out << manager.name; }

class Managers : public testing::TestWithParam<Manager> {
protected:
    std::vector<std::string> server_args(const std::string& n, const std::string& m,
                                         std::vector<std::string> more = {}) {
        std::vector<std::string> args{kServer, "0", n, m};
        args.insert(args.end(), GetParam().options.begin(), GetParam().options.end());
        args.insert(args.end(), more.begin(), more.end());
        return args;
    }
};

}  // namespace

// The slide's transcript: 3 threads, 7 requests, the polling manager reporting `i is alive, cnt = c`.
TEST(Lab02MtnServer, SlideTranscriptWithThePollingManager) {
    Process server({kServer, "0", "--poll", "0.2"});
    const uint16_t port = server.wait_for_listening();
    ASSERT_TRUE(server.wait_for_text("give the number of clients : "));
    server.write("3\n");
    ASSERT_TRUE(server.wait_for_text("give the number of requests : "));
    server.write("7\n");
    ASSERT_TRUE(server.wait_for_line("server is ready for 3 clients"));
    ASSERT_TRUE(server.wait_for_line("server starts 3 threads"));
    for (const char* i : {"0", "1", "2"}) EXPECT_TRUE(server.wait_for_line(std::string(i) + " is alive, cnt = 0"));

    const Result client = run(client_args(port, {"--count", "7"}), "", 30s);
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    for (int i = 1; i <= 7; ++i) EXPECT_NE(client.out.find("sent " + std::to_string(i) + "\n"), std::string::npos);

    EXPECT_EQ(server.out_lines().at(1), "give the number of clients : 3");
    EXPECT_EQ(handled_numbers(server), one_to(7));
    // m - n = 4 restarts; the last n handlers are not restarted (the slide's `dead` list).
    EXPECT_EQ(server.count_matching(std::regex("restarting [012]")), 4u);
    EXPECT_EQ(server.count_matching(std::regex("[012] received [1-7]")), 7u);
    EXPECT_GE(server.count_matching(std::regex("[012] is alive, cnt = \\d")), 3u);
    expect_summary_adds_up(server, 7);
}

TEST(Lab02MtnServer, TheConditionVariableManagerNeverPolls) {
    Process server({kServer, "0", "2", "3"});
    const uint16_t port = server.wait_for_listening();
    EXPECT_EQ(run(client_args(port, {"--count", "3"})).status, 0);
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_EQ(server.count_matching(std::regex(".*is alive.*")), 0u);
    EXPECT_EQ(handled_numbers(server), one_to(3));
}

// A burst: m clients start at once (more than n), each sending one message; every one is handled once.
TEST_P(Managers, ABurstOfClientsIsHandledExactlyMTimes) {
    const int n = 3, m = 12;
    Process server(server_args(std::to_string(n), std::to_string(m)));
    const uint16_t port = server.wait_for_listening();
    std::vector<std::unique_ptr<Process>> clients;
    for (int i = 1; i <= m; ++i)
        clients.push_back(std::make_unique<Process>(client_args(port, {"--message", "burst " + std::to_string(i)})));
    for (auto& client : clients) EXPECT_EQ(client->wait_exit(30s), 0) << client->err();
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_EQ(handled_numbers(server), one_to(m));
    EXPECT_EQ(server.count_matching(std::regex("restarting [012]")), static_cast<size_t>(m - n));
    for (int i = 1; i <= m; ++i)
        EXPECT_EQ(server.count_matching(std::regex("[012] received burst " + std::to_string(i))), 1u) << i;
    expect_summary_adds_up(server, m);
}

TEST_P(Managers, ClientsOneByOne) {
    Process server(server_args("2", "5"));
    const uint16_t port = server.wait_for_listening();
    for (int i = 1; i <= 5; ++i) {
        const Result client = run(client_args(port, {"-m", "one " + std::to_string(i)}));
        EXPECT_EQ(client.status, 0) << client.err;
        EXPECT_TRUE(server.wait_for_match(std::regex("[01] received one " + std::to_string(i))));
    }
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_EQ(handled_numbers(server), one_to(5));
    expect_summary_adds_up(server, 5);
}

// A client that connects and takes its time holds one handler; the other handler, restarted after each
// request, serves everyone else meanwhile.
TEST_P(Managers, ASlowClientDoesNotStopTheOthers) {
    Process server(server_args("2", "5"));
    const uint16_t port = server.wait_for_listening();
    Connection slow(port);
    const std::string slow_handler = handler_of(server, slow.local_port());
    ASSERT_TRUE(server.wait_for_line(slow_handler + " waits for data"));

    const Result others = run(client_args(port, {"--count", "4"}), "", 30s);
    EXPECT_EQ(others.status, 0) << others.err;
    // The client is done once it has sent; the server prints its last line a moment later.
    const std::regex received("[01] received [1-4]");
    EXPECT_TRUE(wait_until([&] { return server.count_matching(received) >= 4; }));
    EXPECT_EQ(server.count_matching(received), 4u);
    EXPECT_EQ(server.count_matching(std::regex(slow_handler + " received .*")), 0u);
    EXPECT_TRUE(server.running()) << "4 of 5 requests handled: the slow one is still to come";

    slow.send("at last\n");
    EXPECT_TRUE(slow.wait_closed()) << "the handler closes the connection once it has the message";
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_TRUE(server.wait_for_line(slow_handler + " received at last"));
    EXPECT_EQ(handled_numbers(server), one_to(5));
    expect_summary_adds_up(server, 5);
}

// After m requests the server exits: a client still queued in the backlog sees a reset, not silence, and
// says its request was not handled.
TEST_P(Managers, AClientBeyondMIsToldItWasNotHandled) {
    Process server(server_args("1", "2"));
    const uint16_t port = server.wait_for_listening();
    Connection first(port);
    ASSERT_TRUE(server.wait_for_line("0 waits for data"));
    Process b(client_args(port, {"-m", "B"}), {.name = "client B"});
    Process c(client_args(port, {"-m", "C"}), {.name = "client C"});
    ASSERT_TRUE(b.wait_for_line("client is connected"));
    ASSERT_TRUE(c.wait_for_line("client is connected"));  // both queued: the one handler is busy
    first.send("first\n");
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    const int status_b = b.wait_exit().value_or(-1);
    const int status_c = c.wait_exit().value_or(-1);
    EXPECT_EQ(status_b + status_c, 1) << "one of B and C is the second request, the other is refused";
    Process& refused = status_b == 1 ? b : c;
    EXPECT_TRUE(refused.wait_for_err_text("the server closed before handling"));
    EXPECT_EQ(handled_numbers(server), one_to(2));
}

// Ctrl-C mid-way: the handlers waiting for clients stop, the one with a client still receives its message
// (no accepted request is lost), every thread is joined, exit 0.
TEST_P(Managers, SigintMidwayKeepsTheAcceptedRequestAndJoinsEveryThread) {
    Process server(server_args("3", "10"));
    const uint16_t port = server.wait_for_listening();
    EXPECT_EQ(run(client_args(port, {"-m", "before"})).status, 0);
    const auto first = server.wait_for_match(std::regex("[012] handled request 1"));
    ASSERT_TRUE(first);
    ASSERT_TRUE(server.wait_for_line("restarting " + first->substr(0, 1)));
    Connection typing(port);
    const std::string busy = handler_of(server, typing.local_port());
    ASSERT_TRUE(server.wait_for_line(busy + " waits for data"));
    if (exact_thread_counts()) {
        // The restarted handler's thread may still be starting just after "restarting N": wait for it.
        EXPECT_TRUE(wait_until([&] { return server.thread_count() == 4; }, scaled(5s)))
            << "the manager and three handlers, not " << server.thread_count();
    }

    server.signal_group(SIGINT);
    ASSERT_TRUE(server.wait_for_text(" stops (was waiting for a client)\n"));
    EXPECT_TRUE(server.running()) << "it waits for the accepted client";
    typing.send("after ctrl-c\n");
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_TRUE(server.wait_for_line(busy + " received after ctrl-c"));
    EXPECT_TRUE(server.wait_for_line(busy + " handled request 2"));
    EXPECT_EQ(server.count_matching(std::regex("\\d stops \\(was waiting for a client\\)")), 2u);
    EXPECT_TRUE(server.wait_for_line("server stopped by SIGINT after 2 of 10 requests, every handler joined"));
    EXPECT_EQ(server.count_matching(std::regex("restarting \\d")), 1u) << "no restart after Ctrl-C";
    expect_summary_adds_up(server, 2);
}

// The grace period bounds how long Ctrl-C waits for an accepted client that never sends.
TEST_P(Managers, SigintGivesUpOnASilentClientAfterTheGracePeriod) {
    Process server(server_args("2", "10", {"--grace", "0.3"}));
    const uint16_t port = server.wait_for_listening();
    Connection silent(port);
    const std::string busy = handler_of(server, silent.local_port());
    ASSERT_TRUE(server.wait_for_line(busy + " waits for data"));
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(5s), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_TRUE(server.wait_for_line(busy + " gave up on its client: no message within the grace period"));
    EXPECT_TRUE(server.wait_for_line("server stopped by SIGTERM after 1 of 10 requests, every handler joined"));
    EXPECT_TRUE(silent.wait_closed(1s));
}

INSTANTIATE_TEST_SUITE_P(Lab02, Managers,
                         testing::Values(Manager{"ConditionVariable", {}}, Manager{"Polling", {"--poll", "0.1"}}),
                         [](const auto& info) { return info.param.name; });

TEST(Lab02MtnServer, FewerRequestsThanHandlersStartsOnlyMHandlers) {
    Process server({kServer, "0", "3", "2"});
    const uint16_t port = server.wait_for_listening();
    ASSERT_TRUE(server.wait_for_line("only 2 requests, one per handler: 2 threads are enough, not 3"));
    ASSERT_TRUE(server.wait_for_line("server starts 2 threads"));
    EXPECT_EQ(run(client_args(port, {"--count", "2"})).status, 0);
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_EQ(handled_numbers(server), one_to(2));
    EXPECT_EQ(server.count_matching(std::regex("restarting \\d")), 0u);
}

TEST(Lab02MtnServer, AClientThatSendsNothingStillCountsAsARequest) {
    Process server({kServer, "0", "1", "2"});
    const uint16_t port = server.wait_for_listening();
    {
        Connection quitter(port);
        ASSERT_TRUE(server.wait_for_line("0 waits for data"));
    }
    ASSERT_TRUE(server.wait_for_line("0 received nothing (the client closed without sending)"));
    EXPECT_EQ(run(client_args(port, {"-m", "real"})).status, 0);
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_EQ(handled_numbers(server), one_to(2));
}

TEST(Lab02MtnServer, BadArgumentsExitTwoWithOneLine) {
    const std::vector<std::vector<std::string>> bad = {{kServer, "0", "0", "5"},
                                                       {kServer, "0", "3", "0"},
                                                       {kServer, "0", "-1", "5"},
                                                       {kServer, "0", "x", "5"},
                                                       {kServer, "0", "3", "many"},
                                                       {kServer, "0", "3", "7", "extra"},
                                                       {kServer, "0", "3", "7", "--poll", "0"},
                                                       {kServer, "0", "3", "7", "--poll", "soon"},
                                                       {kServer, "0", "3", "7", "--grace", "-1"},
                                                       {kServer, "port"},
                                                       {kClient, "localhost", "1", "--count", "0"},
                                                       {kClient, "localhost", "x"},
                                                       {kClient, "--timeout", "0"}};
    for (const auto& args : bad) {
        const Result result = run(args);
        EXPECT_EQ(result.status, 2) << args.back();
        EXPECT_EQ(lines(result.err).size(), 1u) << result.err;
        EXPECT_TRUE(result.out.empty()) << result.out;
    }
}

TEST(Lab02MtnServer, BadAnswersToThePromptsAreUsageErrors) {
    for (const std::string input : {"0\n", "abc\n", "3\n0\n", "3\nx\n", "3\n", ""}) {
        const Result result = run({kServer, "0"}, input);
        EXPECT_EQ(result.status, 2) << input;
        EXPECT_EQ(lines(result.err).size(), 1u) << result.err;
        EXPECT_EQ(result.out.rfind("listening on ", 0), 0u) << "the listening line comes before any prompt";
    }
}

TEST(Lab02MtnServer, HelpExitsZeroAndShowsTheDefaults) {
    const Result server = run({kServer, "--help"});
    EXPECT_EQ(server.status, 0);
    for (const char* text : {"11267", "--poll", "--grace", "NREQUESTS", "NCLIENTS"})
        EXPECT_NE(server.out.find(text), std::string::npos) << text;
    const Result client = run({kClient, "--help"});
    EXPECT_EQ(client.status, 0);
    for (const char* text : {"--message", "--count", "--timeout", "11267"})
        EXPECT_NE(client.out.find(text), std::string::npos) << text;
}

TEST(Lab02MtnClient, NoServerExitsOneSayingWhy) {
    uint16_t free_port;
    {
        Process server({kServer, "0", "1", "1"});
        free_port = server.wait_for_listening();
    }
    const Result result = run(client_args(free_port, {"-m", "hi"}));
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("Connection refused"), std::string::npos) << result.err;
}

TEST(Lab02MtnClient, PromptsAfterConnectingAndHoldsItsHandlerMeanwhile) {
    Process server({kServer, "0", "1", "1"});
    const uint16_t port = server.wait_for_listening();
    Process client(client_args(port));
    ASSERT_TRUE(client.wait_for_text("client is connected\nGive message : "));
    ASSERT_TRUE(server.wait_for_line("0 waits for data"));
    client.write("typed\n");
    EXPECT_EQ(client.wait_exit(), 0);
    client.wait_output_closed();
    EXPECT_EQ(client.out(), "client is connected\nGive message : typed\nsent typed\n");
    EXPECT_EQ(server.wait_exit(), 0);
    server.wait_output_closed();  // all its output read
    EXPECT_TRUE(server.wait_for_line("0 received typed"));
}
