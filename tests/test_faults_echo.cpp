// Fault injection for the servers of labs 01_mtserver, 02_mtnserver (handler threads), 06_sigio (signal-driven
// echo) and 07_epoll (select, poll, epoll, epoll-et echo): clients that misbehave, the server out of
// descriptors, signals during load. Every test runs the real ./server, and after each fault checks from /proc
// that the server is back to its footprint: no descriptor, thread or zombie left (faults::expect_nothing_left).
//
// Slides: the lecture "Multithreaded Servers" (MCS 275 lecture 32), slides "Waiting for Data from 3 Clients"
// and "n Handler Threads for m Client Requests" (01, 02); the lecture "Network Programming", its slides on
// signal-driven I/O and on select, poll and epoll (06, 07): what those servers must survive.
// Suites, instantiated per lab: Lab06/FaultsEcho, Lab07/FaultsEcho, Lab06/FaultsEchoSignals,
// Lab07/FaultsEchoSignals (echo servers); Lab01/FaultsMtServers, Lab02/FaultsMtServers,
// Lab01/FaultsMtServersSignals, Lab02/FaultsMtServersSignals (handler-thread servers).
//
// The suite's map: each fault, and the test that covers it (here, or in the lab's own test file).
//
//   echo servers (06 and the four modes of 07; FaultsEcho and FaultsEchoSignals: Lab06/... and Lab07/...):
//     reset in the middle of a large echo  FaultsEcho.ResetInTheMiddleOfALargeEcho (also, without the /proc
//                                          check: Lab06Sigio.MidStreamDisconnectsCloseOnlyThatConnection,
//                                          Lab07/EchoModes.AbruptDisconnectsCloseOnlyThatConnection)
//     half-close                           FaultsEcho.HalfCloseGetsEverythingEchoedThenTheServerCloses
//     a byte at a time                     FaultsEcho.AMessageSentOneByteAtATimeComesBack
//     never reads, sends a lot             FaultsEcho.AClientThatNeverReadsThenVanishesHoldsOnlyItself; the same
//                                          client reading at last gets every byte: Lab06Sigio.KeepsOutputUntilPollOut,
//                                          Lab07/EchoModes.StuckClientIsBufferedOthersGoOn
//     descriptor exhaustion (no spin)      FaultsEcho.OutOfDescriptorsNoSpinThenEveryoneServed
//     slowloris (idle and half lines)      FaultsEcho.SlowlorisDoesNotStarveAWellBehavedClient; idle clients cost
//                                          no CPU: Lab06Sigio.IdleConnectionsCostNoCpu,
//                                          Lab07/EchoModes.IdleConnectionsCostNoCpu
//     SIGINT, SIGTERM, SIGHUP during load  FaultsEchoSignals.StopDuringLoadEchoesEveryAcceptedClient
//     SIGPIPE sent to the server           FaultsEcho.SigpipeDoesNotKillTheServer
//     SIGHUP under nohup (stays ignored)   FaultsEcho.UnderNohupSighupIsIgnored
//     select and FD_SETSIZE                Lab07/EchoModes.FdSetsizeLimitOnlyForSelect
//     realtime signal queue overflow (06)  Lab06Sigio.RealtimeQueueOverflowLosesNothing
//
//   handler-thread servers (01: two handlers; 02: one handler restarted; each serves two requests, then exits;
//   FaultsMtServers and FaultsMtServersSignals: Lab01/... and Lab02/...):
//     connects and resets                  FaultsMtServers.AClientThatResetsCostsOnlyItsHandler
//     a byte at a time                     FaultsMtServers.AMessageSentOneByteAtATimeArrivesWhole
//     half-closes mid-message              FaultsMtServers.AHalfCloseEndsTheMessage
//     never sends (its handler waits: the slide's design; Ctrl-C still stops everything)
//                                          Lab01MtServer.SigintWhileHandlersWaitJoinsThemAllAndExitsZero,
//                                          Lab01MtServer.StopMessageStopsEveryHandler,
//                                          Lab02/Managers.ASlowClientDoesNotStopTheOthers,
//                                          Lab02/Managers.SigintGivesUpOnASilentClientAfterTheGracePeriod
//     SIGINT, SIGTERM, SIGHUP during load  FaultsMtServersSignals.StopDuringLoadKeepsEveryAcceptedMessage
//     SIGPIPE sent to the server           FaultsMtServers.SigpipeDoesNotKillTheServer
//     SIGHUP under nohup (stays ignored)   FaultsMtServers.UnderNohupSighupIsIgnored
//     a message over the limit (1 MiB, 64 KiB: in the READMEs' "Limits")
//                                          FaultsMtServers.AMessageOverTheLimitIsCutOffSayingSo; under it, in
//                                          80-byte pieces: Lab01MtServer.AMessageLongerThanOneBufferArrivesWhole
//
// A server that stops (a signal) exits: there is no /proc left to look at. Those tests check what is left
// from outside instead: exit status 0, every accepted client's bytes, the port closed.
#include "tests/echo_helpers.hpp"
#include "tests/faults.hpp"
#include "tests/harness.hpp"
#include "tests/uring_helpers.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <poll.h>
#include <regex>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <tuple>
#include <vector>

using namespace harness;
using namespace std::chrono_literals;

namespace {

// Waits until `pattern` has matched `count` stdout lines of `process` (polling its output, with a deadline).
bool wait_for_count(const Process& process, const std::regex& pattern, size_t count, Duration timeout = 10s) {
    return wait_until([&] { return process.count_matching(pattern) >= count; }, timeout);
}

std::string signal_label(int signo) {
    switch (signo) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        case SIGHUP: return "SIGHUP";
    }
    return std::to_string(signo);
}

std::string pattern_bytes(size_t size) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = char('a' + (i * 7919 % 26));
    return bytes;
}

// ---------------------------------------------------------------------------------------------------------
// Echo servers: 06_sigio and the four modes of 07_epoll.

struct EchoServer {
    std::string name;  // test name suffix
    std::string lab;
    std::string mode;  // 07's --mode; empty for 06
};
void PrintTo(const EchoServer& server, std::ostream* out) { *out << server.name; }

// Instantiated per lab: Lab06/FaultsEcho.X/sigio, Lab07/FaultsEcho.X/select, ...
const std::vector<EchoServer> kLab06Servers = {{"sigio", "06_sigio", ""}};
const std::vector<EchoServer> kLab07Servers = {{"select", "07_epoll", "select"},
                                               {"poll", "07_epoll", "poll"},
                                               {"epoll", "07_epoll", "epoll"},
                                               {"epollet", "07_epoll", "epoll-et"},
                                               {"uring", "07_epoll", "uring"}};

// What the echo servers share, whichever the parameterization.
class EchoFixture {
protected:
    std::unique_ptr<Process> start_echo(const EchoServer& kind, std::vector<std::string> extra = {},
                                        Options options = {}, bool under_nohup = false) {
        kind_ = kind;
        std::vector<std::string> argv{program(kind.lab, "server"), "0"};
        if (under_nohup) argv.insert(argv.begin(), "/usr/bin/nohup");  // SIGHUP ignored, then exec: the same process
        if (!kind.mode.empty()) argv.insert(argv.end(), {"--mode", kind.mode});
        argv.insert(argv.end(), extra.begin(), extra.end());
        options.name = "server " + kind.name;
        auto server = std::make_unique<Process>(argv, options);
        port_ = server->wait_for_listening();
        if (kind.mode.empty())
            server->wait_for_text("a full realtime queue raises SIGIO\n");  // 06: signals set up
        else
            server->wait_for_text("; pid ");  // 07: the mode line
        return server;
    }
    std::vector<std::string> client(std::vector<std::string> extra) const {
        std::vector<std::string> argv{program(kind_.lab, "client"), "127.0.0.1", std::to_string(port_)};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }
    // The footprint of the server once its loop runs: a first client echoed and gone (07 creates its
    // signalfd and epoll descriptor after the listening line), only the listening socket left.
    faults::Footprint settled_footprint(Process& server) {
        {
            Connection first(port_);
            first.send("warm-up\n");
            EXPECT_EQ(first.read_exact(8, scaled(10s)), "warm-up\n");
        }
        EXPECT_TRUE(echo_helpers::wait_only_listener(server));
        return faults::footprint(server);
    }
    // The server's log line for closing the connection of the client at `client_port`, for `reason` (a regex).
    std::regex closed_line(uint16_t client_port, const std::string& reason) const {
        const std::string peer = "\\(127\\.0\\.0\\.1:" + std::to_string(client_port) + "\\): ";
        if (kind_.mode.empty()) return std::regex("socket \\d+ closed " + peer + reason);
        return std::regex("closed fd \\d+ " + peer + reason);
    }
    // The log line for a connection closed at the client's end of input (any client).
    std::regex end_of_input_line() const {
        return std::regex(std::string(kind_.mode.empty() ? "socket \\d+ closed" : "closed fd \\d+") +
                          " \\(127\\.0\\.0\\.1:\\d+\\): end of input");
    }
    // A well-behaved client: one line, its echo.
    void expect_served(const std::string& line) {
        const Result result = run(client({"--message", line}), "", scaled(10s));
        EXPECT_EQ(result.status, 0) << result.err;
        EXPECT_NE(result.out.find("echo: " + line + "\n"), std::string::npos) << result.out;
    }

    EchoServer kind_;
    uint16_t port_ = 0;
};

class FaultsEcho : public ::testing::TestWithParam<EchoServer>, protected EchoFixture {
protected:
    void SetUp() override {
        if (GetParam().mode == "uring" && !uring_helpers::uring_refused().empty())
            GTEST_SKIP() << uring_helpers::uring_refused();
    }
    std::unique_ptr<Process> start(std::vector<std::string> extra = {}, Options options = {}) {
        return start_echo(GetParam(), std::move(extra), std::move(options));
    }
};

// The client sends a large stream and reads its echo; a megabyte in, with more still in flight both ways,
// it vanishes with a reset. The server closes that connection on the error (read or write: whichever
// meets the reset first) and serves the next client; nothing stays behind.
TEST_P(FaultsEcho, ResetInTheMiddleOfALargeEcho) {
    auto server = start();
    ASSERT_NE(port_, 0);
    const faults::Footprint before = settled_footprint(*server);
    const std::string payload = pattern_bytes(8 << 20);
    Connection vanishing(port_);
    const int fd = vanishing.fd();
    size_t sent = 0, received = 0;
    std::vector<char> buffer(64 * 1024);
    while (received < (1u << 20)) {
        pollfd entry{fd, short(POLLIN | (sent < payload.size() ? POLLOUT : 0)), 0};
        ASSERT_GT(::poll(&entry, 1, int(scaled(10s).count())), 0) << "the echo stalled at " << received << " bytes";
        if (entry.revents & POLLOUT) {
            const ssize_t n = ::send(fd, payload.data() + sent, std::min<size_t>(buffer.size(), payload.size() - sent),
                                     MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) sent += size_t(n);
        }
        if (entry.revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
            ASSERT_NE(n, 0) << "the server closed at " << received << " bytes";
            if (n < 0) continue;
            ASSERT_EQ(std::memcmp(buffer.data(), payload.data() + received, size_t(n)), 0)
                << "echo differs near byte " << received;
            received += size_t(n);
        }
    }
    // More on the way: whatever the socket takes now, unread echo included, is cut off by the reset.
    for (int i = 0; i < 8 && sent < payload.size(); ++i) {
        const ssize_t n = ::send(fd, payload.data() + sent, std::min<size_t>(buffer.size(), payload.size() - sent),
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += size_t(n);
    }
    const uint16_t client_port = vanishing.local_port();
    faults::reset(vanishing);
    EXPECT_TRUE(server->wait_for_match(closed_line(client_port, "(read|write): .*")));
    expect_served("after the reset");
    faults::expect_nothing_left(*server, before);
}

// A client sends, then shuts down its sending side (FIN) without closing: the server must still echo all
// it was sent, and only then close.
TEST_P(FaultsEcho, HalfCloseGetsEverythingEchoedThenTheServerCloses) {
    auto server = start();
    const faults::Footprint before = settled_footprint(*server);
    const std::string request = pattern_bytes(100000) + "\nthe last line, sent just before the FIN\n";
    const std::string reply = faults::half_close(port_, request);
    EXPECT_EQ(reply.size(), request.size());
    EXPECT_TRUE(reply == request) << "the echo differs from what was sent";
    // read_all returned at EOF, not at its deadline: the server logged the close.
    EXPECT_TRUE(server->wait_for_match(end_of_input_line()));
    faults::expect_nothing_left(*server, before);
}

// A message trickling in a byte at a time (TCP_NODELAY, 5 ms apart) comes back whole.
TEST_P(FaultsEcho, AMessageSentOneByteAtATimeComesBack) {
    auto server = start();
    const faults::Footprint before = settled_footprint(*server);
    const std::string message = "one byte at a time\n";
    auto trickling = faults::trickle(port_, message);
    EXPECT_EQ(trickling->read_exact(message.size(), scaled(10s)), message);
    trickling.reset();
    EXPECT_TRUE(server->wait_for_match(end_of_input_line()));
    faults::expect_nothing_left(*server, before);
}

// A client sends megabytes and never reads (a small receive buffer): its echo backs up, the server keeps
// what the socket will not take and stops reading from it, and serves everyone else meanwhile. Then it
// vanishes without ever reading: that connection, and its buffer, are gone.
TEST_P(FaultsEcho, AClientThatNeverReadsThenVanishesHoldsOnlyItself) {
    auto server = start();
    const faults::Footprint before = settled_footprint(*server);
    auto stuck = faults::never_reads(port_, "x");
    ASSERT_EQ(stuck->read_exact(1, scaled(10s)), "x");  // accepted and echoing
    const uint16_t stuck_port = stuck->local_port();
    const std::string payload = pattern_bytes(16 << 20);
    // The sender blocks once every buffer on the way is full; shutdown() below wakes it.
    std::thread sender([fd = stuck->fd(), &payload] {
        size_t sent = 0;
        while (sent < payload.size()) {
            const ssize_t n = ::send(fd, payload.data() + sent, payload.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            sent += size_t(n);
        }
    });
    const std::regex kept(kind_.mode.empty() ? "fd \\d+: output full, \\d+ bytes kept until POLL_OUT"
                                             : "fd \\d+: read \\d+ bytes, echoed \\d+, the rest kept for later");
    EXPECT_TRUE(server->wait_for_match(kept, 20s));
    expect_served("still served");
    const Result load = run(client({"--connections", "4", "--messages", "20", "--size", "10000"}), "", scaled(30s));
    EXPECT_EQ(load.status, 0) << load.err;
    EXPECT_NE(load.out.find("4 connections x 20 messages of 10000 bytes echoed and verified"), std::string::npos)
        << load.out;
    ::shutdown(stuck->fd(), SHUT_RDWR);
    sender.join();
    faults::reset(*stuck);
    EXPECT_TRUE(server->wait_for_match(closed_line(stuck_port, ".*")));
    faults::expect_nothing_left(*server, before);
}

// Out of descriptors (RLIMIT_NOFILE 32): accept fails with EMFILE, the clients wait in the backlog. The
// server says so once, burns no CPU while saturated (no spinning on a listening socket it cannot empty),
// and serves every waiting client once others leave. (Moved here from test_07_epoll.cpp, now with 06.)
TEST_P(FaultsEcho, OutOfDescriptorsNoSpinThenEveryoneServed) {
    auto server = start({}, {.rlimits = {{RLIMIT_NOFILE, 32}}});
    const faults::Footprint before = settled_footprint(*server);
    const int total = 40, first = 20;
    std::vector<std::unique_ptr<Connection>> connections;
    for (int i = 0; i < total; ++i) {
        connections.push_back(std::make_unique<Connection>(port_));  // completes in the backlog
        connections.back()->send("ping\n");
    }
    ASSERT_TRUE(
        server->wait_for_match(std::regex("out of descriptors \\(accept: Too many open files\\) with \\d+ clients? "
                                          "connected: new clients wait in the backlog")));
    for (int i = 0; i < first; ++i)
        EXPECT_EQ(connections[size_t(i)]->read_exact(5, scaled(10s)), "ping\n") << "client " << i;
    // Saturated and waiting: no CPU burnt.
    const double cpu_before = cpu_seconds(server->pid());
    std::this_thread::sleep_for(1s);  // measuring an interval, not waiting for readiness
    EXPECT_LT(cpu_seconds(server->pid()) - cpu_before, 0.2) << "the server spins while out of descriptors";
    EXPECT_EQ(server->count_matching(std::regex("out of descriptors .*")), 1u) << "said once per shortage";
    for (int i = 0; i < first; ++i) connections[size_t(i)]->close();
    for (int i = first; i < total; ++i)
        EXPECT_EQ(connections[size_t(i)]->read_exact(5, scaled(10s)), "ping\n") << "client " << i;
    EXPECT_TRUE(server->wait_for_match(std::regex("accepting again \\(\\d+ clients? connected\\)")));
    connections.clear();
    faults::expect_nothing_left(*server, before);
}

// Slowloris: 40 connections that send nothing and 40 that send half a line and stop. An event-driven
// server is not starved by idle clients (DESIGN.md; no idle timeout is needed): a well-behaved client is
// served at once, and the idle ones are still connected and served when they speak.
TEST_P(FaultsEcho, SlowlorisDoesNotStarveAWellBehavedClient) {
    auto server = start({"--quiet"});
    const faults::Footprint before = settled_footprint(*server);
    auto silent = faults::slowloris(port_, 40);
    const std::string half_line = "GET / HTTP/1.1\r\nHost: loris";
    auto partial = faults::slowloris(port_, 40, half_line);
    expect_served("not starved");
    const Result load = run(client({"--connections", "5", "--messages", "50"}), "", scaled(30s));
    EXPECT_EQ(load.status, 0) << load.err;
    EXPECT_NE(load.out.find("echoed and verified"), std::string::npos) << load.out;
    // Still connected, and served the moment they speak.
    EXPECT_EQ(partial.back()->read_exact(half_line.size(), scaled(10s)), half_line);
    silent.front()->send("late");
    EXPECT_EQ(silent.front()->read_exact(4, scaled(10s)), "late");
    silent.clear();
    partial.clear();
    faults::expect_nothing_left(*server, before);
}

// SIGPIPE sent to the server (as a write to a vanished client would raise it) does not kill it.
TEST_P(FaultsEcho, SigpipeDoesNotKillTheServer) {
    auto server = start();
    const faults::Footprint before = settled_footprint(*server);
    Connection connected(port_);
    connected.send("before\n");
    ASSERT_EQ(connected.read_exact(7, scaled(10s)), "before\n");
    server->signal(SIGPIPE);
    connected.send("after\n");
    EXPECT_EQ(connected.read_exact(6, scaled(10s)), "after\n");
    expect_served("still alive");
    EXPECT_TRUE(server->running());
    connected.close();
    faults::expect_nothing_left(*server, before);
}

// Started under nohup (SIGHUP ignored), the server keeps SIGHUP ignored: closing the terminal does not stop
// it; SIGTERM still does.
TEST_P(FaultsEcho, UnderNohupSighupIsIgnored) {
    auto server = start_echo(GetParam(), {}, {}, true);
    ASSERT_NE(port_, 0);
    server->signal(SIGHUP);
    expect_served("still here");
    EXPECT_TRUE(server->running());
    server->signal(SIGTERM);
    EXPECT_EQ(server->wait_exit(scaled(10s)), 0);
    EXPECT_TRUE(server->wait_for_match(std::regex("server stopped by SIGTERM: 1 connection served.*")));
}

INSTANTIATE_TEST_SUITE_P(Lab06, FaultsEcho, ::testing::ValuesIn(kLab06Servers),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Lab07, FaultsEcho, ::testing::ValuesIn(kLab07Servers),
                         [](const auto& info) { return info.param.name; });

// SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed; kit policy: the same graceful stop) while a load
// client runs: the server stops accepting, still echoes every byte of every connection it had accepted,
// exits 0 once they leave, with its summary naming the signal.
class FaultsEchoSignals : public ::testing::TestWithParam<std::tuple<EchoServer, int>>, protected EchoFixture {
protected:
    void SetUp() override {
        if (std::get<0>(GetParam()).mode == "uring" && !uring_helpers::uring_refused().empty())
            GTEST_SKIP() << uring_helpers::uring_refused();
    }
};

TEST_P(FaultsEchoSignals, StopDuringLoadEchoesEveryAcceptedClient) {
    const auto& [kind, signo] = GetParam();
    auto server = start_echo(kind, {"--grace", "60"});
    Connection mine(port_);
    mine.send("before\n");
    ASSERT_EQ(mine.read_exact(7, scaled(10s)), "before\n");
    const std::string messages = sanitized() ? "100" : "400";
    Process load(client({"--connections", "4", "--messages", messages, "--size", "20000"}), {.name = "load client"});
    // The load's four connections accepted (the client connects them all before sending): then the signal.
    ASSERT_TRUE(wait_for_count(*server, std::regex("accepted 127\\.0\\.0\\.1:\\d+ on fd \\d+.*"), 5));
    if (signo == SIGINT)
        server->signal_group(SIGINT);  // as Ctrl-C at a terminal does
    else
        server->signal(signo);
    ASSERT_TRUE(server->wait_for_text("stopping: no new clients"));
    mine.send("after the signal\n");
    EXPECT_EQ(mine.read_exact(17, scaled(10s)), "after the signal\n") << "an accepted client is still served";
    EXPECT_THROW(Connection refused(port_), std::system_error) << "no new client once stopping";
    EXPECT_EQ(load.wait_exit(scaled(60s)), 0) << load.err();
    EXPECT_NE(load.out().find("4 connections x " + messages + " messages of 20000 bytes echoed and verified"),
              std::string::npos)
        << load.out();
    mine.close();
    EXPECT_EQ(server->wait_exit(scaled(10s)), 0);
    EXPECT_TRUE(
        server->wait_for_match(std::regex("server stopped by " + signal_label(signo) + ": 5 connections served.*")));
}

std::string echo_signal_name(const testing::TestParamInfo<std::tuple<EchoServer, int>>& info) {
    return std::get<0>(info.param).name + "_" + signal_label(std::get<1>(info.param));
}
INSTANTIATE_TEST_SUITE_P(Lab06, FaultsEchoSignals,
                         ::testing::Combine(::testing::ValuesIn(kLab06Servers),
                                            ::testing::Values(SIGINT, SIGTERM, SIGHUP)),
                         echo_signal_name);
INSTANTIATE_TEST_SUITE_P(Lab07, FaultsEchoSignals,
                         ::testing::Combine(::testing::ValuesIn(kLab07Servers),
                                            ::testing::Values(SIGINT, SIGTERM, SIGHUP)),
                         echo_signal_name);

// ---------------------------------------------------------------------------------------------------------
// Handler-thread servers: 01 (two handlers, one client each) and 02 (one handler, restarted, two requests).
// Each serves exactly two requests and then exits by itself.

struct ThreadedServer {
    std::string name;
    std::string lab;
    std::vector<std::string> args;  // after the port
    int threads;                    // main thread and handlers, while waiting for clients
    size_t max_message;             // the message limit stated in --help
};
void PrintTo(const ThreadedServer& server, std::ostream* out) { *out << server.name; }

// Instantiated per lab: Lab01/FaultsMtServers.X/mtserver, Lab02/FaultsMtServers.X/mtnserver.
const std::vector<ThreadedServer> kLab01Servers = {{"mtserver", "01_mtserver", {"2"}, 3, 1048576}};
const std::vector<ThreadedServer> kLab02Servers = {{"mtnserver", "02_mtnserver", {"1", "2"}, 2, 65536}};

class ThreadedFixture {
protected:
    std::unique_ptr<Process> start_threaded(const ThreadedServer& kind, std::vector<std::string> args) {
        kind_ = kind;
        std::vector<std::string> argv{program(kind.lab, "server"), "0"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto server = std::make_unique<Process>(argv, Options{.name = "server " + kind.name});
        port_ = server->wait_for_listening();
        server->wait_for_match(std::regex("server starts \\d+ threads?"));
        return server;
    }
    // The handler in "N accepted request from 127.0.0.1:PORT" for the client at `client_port`, once it waits.
    std::string handler_of(Process& server, uint16_t client_port) {
        const auto line = server.wait_for_match(
            std::regex("(\\d+) accepted request from 127\\.0\\.0\\.1:" + std::to_string(client_port)));
        if (!line) return "?";
        const std::string handler = line->substr(0, line->find(' '));
        server.wait_for_line(handler + " waits for data");
        return handler;
    }
    faults::Footprint idle_footprint(Process& server, int threads) {
        if (exact_thread_counts()) {
            EXPECT_TRUE(server.wait_for_thread_count(threads));
        }
        return faults::footprint(server);
    }
    // The second, last request: a well-behaved client; then the server exits 0 by itself.
    void finish_with_a_good_client(Process& server, const std::string& message) {
        const Result result = run(
            {program(kind_.lab, "client"), "127.0.0.1", std::to_string(port_), "--message", message}, "", scaled(10s));
        EXPECT_EQ(result.status, 0) << result.err;
        EXPECT_TRUE(server.wait_for_match(std::regex("\\d+ received " + message)));
        EXPECT_EQ(server.wait_exit(scaled(10s)), 0);
    }

    ThreadedServer kind_;
    uint16_t port_ = 0;
};

class FaultsMtServers : public ::testing::TestWithParam<ThreadedServer>, protected ThreadedFixture {
protected:
    std::unique_ptr<Process> start() { return start_threaded(GetParam(), GetParam().args); }
};

// A client that connects and vanishes with a reset: its handler's recv fails, that handler ends (02: it
// counts as a request and the handler is restarted); nothing else is affected.
TEST_P(FaultsMtServers, AClientThatResetsCostsOnlyItsHandler) {
    auto server = start();
    const faults::Footprint before = idle_footprint(*server, GetParam().threads);
    Connection vanishing(port_);
    const std::string handler = handler_of(*server, vanishing.local_port());
    faults::reset(vanishing);
    EXPECT_TRUE(server->wait_for_line(handler + " failed: read: Connection reset by peer"));
    if (GetParam().lab == "02_mtnserver") {
        EXPECT_TRUE(server->wait_for_line("restarting " + handler));
    }
    faults::expect_nothing_left(*server, before);
    finish_with_a_good_client(*server, "after the reset");
}

// A message trickling in a byte at a time is one message: the handler reads until the newline.
TEST_P(FaultsMtServers, AMessageSentOneByteAtATimeArrivesWhole) {
    auto server = start();
    const faults::Footprint before = idle_footprint(*server, GetParam().threads);
    auto trickling = faults::trickle(port_, "sent one byte at a time\n");
    const std::string handler = handler_of(*server, trickling->local_port());
    EXPECT_TRUE(server->wait_for_line(handler + " received sent one byte at a time"));
    EXPECT_TRUE(trickling->wait_closed(scaled(10s))) << "the handler closes once it has the message";
    trickling.reset();
    if (GetParam().lab == "02_mtnserver") {
        EXPECT_TRUE(server->wait_for_line("restarting " + handler));
    }
    faults::expect_nothing_left(*server, before);
    finish_with_a_good_client(*server, "the second");
}

// A client that half-closes in the middle of a line: the FIN ends the message, the part that came is
// printed, and the handler closes the connection.
TEST_P(FaultsMtServers, AHalfCloseEndsTheMessage) {
    auto server = start();
    const faults::Footprint before = idle_footprint(*server, GetParam().threads);
    Connection halving(port_);
    const std::string handler = handler_of(*server, halving.local_port());
    halving.send("half a mess");
    halving.shutdown_write();
    EXPECT_TRUE(server->wait_for_line(handler + " received half a mess"));
    EXPECT_TRUE(halving.wait_closed(scaled(10s)));
    halving.close();
    if (GetParam().lab == "02_mtnserver") {
        EXPECT_TRUE(server->wait_for_line("restarting " + handler));
    }
    faults::expect_nothing_left(*server, before);
    finish_with_a_good_client(*server, "whole");
}

// A message over the limit (01: 1 MiB, 02: 64 KiB) is cut off there, saying so; the rest is never read.
TEST_P(FaultsMtServers, AMessageOverTheLimitIsCutOffSayingSo) {
    auto server = start();
    const faults::Footprint before = idle_footprint(*server, GetParam().threads);
    const size_t limit = GetParam().max_message;
    Connection flooding(port_);
    const std::string handler = handler_of(*server, flooding.local_port());
    try {
        flooding.send(std::string(limit + 4096, 'x') + "\n");
    } catch (const std::system_error&) {
        // the handler stopped reading at the limit and closed: the end of our message met a reset
    }
    EXPECT_TRUE(server->wait_for_line(handler + " cut the message off at " + std::to_string(limit) + " bytes"));
    EXPECT_TRUE(server->wait_for_line(handler + " received " + std::string(limit, 'x')));
    EXPECT_TRUE(flooding.wait_closed(scaled(10s)));
    flooding.close();
    if (GetParam().lab == "02_mtnserver") {
        EXPECT_TRUE(server->wait_for_line("restarting " + handler));
    }
    faults::expect_nothing_left(*server, before);
    finish_with_a_good_client(*server, "short");
}

// SIGPIPE sent to the server does not kill it (it is ignored; sockets would report EPIPE instead).
TEST_P(FaultsMtServers, SigpipeDoesNotKillTheServer) {
    auto server = start();
    const faults::Footprint before = idle_footprint(*server, GetParam().threads);
    server->signal(SIGPIPE);
    const Result first = run(
        {program(GetParam().lab, "client"), "127.0.0.1", std::to_string(port_), "--message", "one"}, "", scaled(10s));
    EXPECT_EQ(first.status, 0) << first.err;
    EXPECT_TRUE(server->wait_for_match(std::regex("\\d+ received one")));
    EXPECT_TRUE(server->running());
    if (GetParam().lab == "02_mtnserver") {
        EXPECT_TRUE(server->wait_for_line("restarting 0"));
    }
    faults::expect_nothing_left(*server, before);
    finish_with_a_good_client(*server, "two");
}

// Started under nohup (SIGHUP ignored), the server keeps SIGHUP ignored; SIGTERM still stops it.
TEST_P(FaultsMtServers, UnderNohupSighupIsIgnored) {
    std::vector<std::string> argv{"/usr/bin/nohup", program(GetParam().lab, "server"), "0"};
    argv.insert(argv.end(), GetParam().args.begin(), GetParam().args.end());
    Process server(argv, {.name = "server " + GetParam().name + " under nohup"});
    port_ = server.wait_for_listening();
    ASSERT_TRUE(server.wait_for_match(std::regex("server starts \\d+ threads?")));
    kind_ = GetParam();
    server.signal(SIGHUP);
    const Result first = run(
        {program(GetParam().lab, "client"), "127.0.0.1", std::to_string(port_), "--message", "one"}, "", scaled(10s));
    EXPECT_EQ(first.status, 0) << first.err;
    EXPECT_TRUE(server.wait_for_match(std::regex("\\d+ received one")));
    EXPECT_TRUE(server.running());
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(scaled(10s)), 0);
    EXPECT_TRUE(server.wait_for_match(std::regex("server stopped by SIGTERM.*")));
}

INSTANTIATE_TEST_SUITE_P(Lab01, FaultsMtServers, ::testing::ValuesIn(kLab01Servers),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Lab02, FaultsMtServers, ::testing::ValuesIn(kLab02Servers),
                         [](const auto& info) { return info.param.name; });

// SIGINT, SIGTERM or SIGHUP with handlers busy: two requests handled, a third client that sends its message
// just as the signal comes, and (01) a handler still waiting for a client. The message sent is printed, not
// lost; every handler is joined; exit 0, naming the signal.
class FaultsMtServersSignals : public ::testing::TestWithParam<std::tuple<ThreadedServer, int>>,
                               protected ThreadedFixture {};

TEST_P(FaultsMtServersSignals, StopDuringLoadKeepsEveryAcceptedMessage) {
    const auto& [kind, signo] = GetParam();
    const bool mtn = kind.lab == "02_mtnserver";
    auto server = start_threaded(kind, mtn ? std::vector<std::string>{"2", "20"} : std::vector<std::string>{"4"});
    for (const char* message : {"first", "second"}) {
        const Result result = run(
            {program(kind.lab, "client"), "127.0.0.1", std::to_string(port_), "--message", message}, "", scaled(10s));
        EXPECT_EQ(result.status, 0) << result.err;
        EXPECT_TRUE(server->wait_for_match(std::regex("\\d+ received " + std::string(message))));
    }
    if (mtn) {
        ASSERT_TRUE(wait_for_count(*server, std::regex("restarting \\d+"), 2));
    }
    Connection last(port_);
    const std::string handler = handler_of(*server, last.local_port());
    last.send("sent as the signal comes\n");
    if (signo == SIGINT)
        server->signal_group(SIGINT);
    else
        server->signal(signo);
    EXPECT_EQ(server->wait_exit(scaled(10s)), 0);
    EXPECT_TRUE(server->wait_for_line(handler + " received sent as the signal comes"));
    EXPECT_TRUE(last.wait_closed(scaled(5s)));
    EXPECT_THROW(Connection refused(port_), std::system_error) << "the listening socket is closed";
    const std::string name = signal_label(signo);
    if (mtn) {
        EXPECT_TRUE(
            server->wait_for_line("server stopped by " + name + " after 3 of 20 requests, every handler joined"));
        EXPECT_TRUE(server->wait_for_match(std::regex("server handled 3 requests \\(per handler 0: \\d, 1: \\d\\)")));
    } else {
        EXPECT_EQ(server->count_matching(std::regex("\\d stops \\(was waiting for a client\\)")), 1u);
        EXPECT_TRUE(server->wait_for_line("server stopped by " + name + ", every handler joined"));
    }
}

std::string threaded_signal_name(const testing::TestParamInfo<std::tuple<ThreadedServer, int>>& info) {
    return std::get<0>(info.param).name + "_" + signal_label(std::get<1>(info.param));
}
INSTANTIATE_TEST_SUITE_P(Lab01, FaultsMtServersSignals,
                         ::testing::Combine(::testing::ValuesIn(kLab01Servers),
                                            ::testing::Values(SIGINT, SIGTERM, SIGHUP)),
                         threaded_signal_name);
INSTANTIATE_TEST_SUITE_P(Lab02, FaultsMtServersSignals,
                         ::testing::Combine(::testing::ValuesIn(kLab02Servers),
                                            ::testing::Values(SIGINT, SIGTERM, SIGHUP)),
                         threaded_signal_name);

}  // namespace
