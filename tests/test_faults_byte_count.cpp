// tests/test_faults_byte_count.cpp: the fault-injection suite of labs 04_prefork (processes) and 05_prethread
// (threads), run over every server model of both, with the misbehaving clients of tests/faults.hpp.
//
// Slides: the lecture "Network Programming" (UNP ch. 30), slides "Server Design Alternatives" to "Comparing
// Multi Process/Multi Thread Designs"; the kit's robustness rules (DESIGN.md: limits, signals, pools).
// Suites, each instantiated once per lab (Lab04/..., Lab05/...): FaultsByteCount (every model),
// FaultsProcessPool (04's pools), FaultsPerClient (fork, thread), FaultsSighup (under nohup).
// Watch for: after every fault the server is back to its footprint (faults::expect_nothing_left: no
// descriptor, thread or child more than before, no zombie), or, when the fault stops it, exits 0 having
// reaped everything. What each model promises, and so what is checked:
//   - a pool (nolock, flock, mutex, pass, hybrid; accept, main) or a worker per client (fork, thread): a client
//     that never reads holds one worker only, so the others are served at once;
//   - iterative: one client at a time, so the others are served once --idle-timeout gives up on the
//     blocked write (the same timeout bounds writes as well as reads);
//   - descriptors: each process of lab 04 holds one connection at a time, so a low RLIMIT_NOFILE never
//     binds there (its bounds are the pool and --max-clients); lab 05's one process runs out of them, and
//     waits (logged once) rather than spins or dies.
//
// The suite's map (fault -> test; those elsewhere are not repeated here):
//   bad requests, long lines, EOF mid-line  ByteCountServer.BadRequestsGetOneErrorLineAndTheServerCarriesOn
//   vanishing mid-reply                     ByteCountServer.AClientVanishingMidReplyCostsOnlyItsConnection;
//                                           here with the footprint check: AResetInTheMiddleOfALaterReply...
//   one idle client, the timeout            ByteCountServer.AnIdleConnectionIsClosedAfterTheIdleTimeout
//   the book's starvation (no timeout)      ByteCountServer.WithItsOnlyWorkerBusyTheNextClientWaits
//   Ctrl-C / SIGTERM when idle              ByteCountServer.CtrlCPrintsOneSummary..., SigtermStopsEverything...
//   1,000 connections: zombies, descriptors ByteCountServer.NoZombiesAndNoDescriptorGrowthAfterAThousand...
//     (all in tests/byte_count_suite.hpp, run as Lab04/ByteCountServer.* and Lab05/ByteCountServer.*)
//   a killed child, idle or holding the accept lock; SIGTERM to a child; parent killed
//                                           Lab04/ProcessPool.* in test_04_prefork.cpp; here: a child
//                                           killed in the middle of a reply (FaultsProcessPool)
//   a full array (main)                     Lab05Prethread.AFullArrayMakesTheMainThreadWaitNeverOverwrite
//   half-close, trickle, never reads, descriptor exhaustion, slowloris, SIGINT / SIGTERM / SIGHUP under
//   the load client, SIGPIPE, --max-clients counted, SIGHUP under nohup: here.
#include "tests/byte_count_suite.hpp"
#include "tests/faults.hpp"

#include "netutil/signals.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace harness;
using byte_count_suite::ModelCase;
using byte_count_suite::some_thread_blocked_in;

// This program uses the suite's helpers, not its tests (test_04 and test_05 run those).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ByteCountServer);

namespace {

const std::string k04 = "04_prefork";
const std::string k05 = "05_prethread";

// ------------------------------------------------------------------------------------------- helpers

// True once a TCP connection to or from `port` exists or existed (ESTABLISHED, TIME_WAIT, ...: any state
// but LISTEN) in /proc/net/tcp or tcp6: the load client has begun.
bool port_has_connections(uint16_t port) {
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state;
            fields >> slot >> local >> remote >> state;
            const auto port_of = [](const std::string& address) {
                const auto colon = address.rfind(':');
                return colon == std::string::npos ? 0UL : std::stoul(address.substr(colon + 1), nullptr, 16);
            };
            if (state != "0A" && (port_of(local) == port || port_of(remote) == port)) return true;
        }
    }
    return false;
}

// How many descriptor numbers below `limit` the process has free (accept() takes the lowest free one, and
// fails with EMFILE when none is left below RLIMIT_NOFILE).
int free_descriptors_below(pid_t pid, int limit) {
    int used = 0;
    DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (dir == nullptr) return -1;
    while (const dirent* entry = ::readdir(dir))
        if (entry->d_name[0] != '.' && std::atoi(entry->d_name) < limit) ++used;
    ::closedir(dir);
    return limit - used;
}

// True if `connection` has bytes (or EOF) to read right now.
bool readable_now(const Connection& connection) {
    pollfd pfd{connection.fd(), POLLIN, 0};
    return ::poll(&pfd, 1, 0) > 0;
}

bool is_04(const ModelCase& c) { return c.lab == k04; }
bool is_iterative(const ModelCase& c) { return c.model == "iterative"; }

// Starts the server of `c` with `workers` workers (and `extra` options) and waits until every worker is
// up, so that its footprint is the idle one: the children of lab 04's pools forked, the threads of lab
// 05's pools started.
struct Started {
    std::unique_ptr<Process> server;
    uint16_t port = 0;
};
Started start(const ModelCase& c, int workers, std::vector<std::string> extra = {}, Options options = {}) {
    Started started;
    started.server =
        std::make_unique<Process>(byte_count_suite::server_args(c, workers, std::move(extra)), std::move(options));
    started.port = started.server->wait_for_listening();
    if (c.pool && is_04(c)) {
        EXPECT_TRUE(byte_count_suite::wait_for_children(*started.server, static_cast<size_t>(workers)));
    } else if (c.pool) {
        for (int i = 0; i < workers; ++i) started.server->wait_for_line("thread " + std::to_string(i) + " starting");
        if (exact_thread_counts()) {
            EXPECT_TRUE(started.server->wait_for_thread_count(workers + 1));
        }
    }
    return started;
}

// The error counts of the load client's "errors: ..." line (all 0 when it printed none).
struct ClientErrors {
    long not_connected = 0, closed_before_reply = 0, short_replies = 0, error_replies = 0, timeouts = 0, died = 0;
};
ClientErrors client_errors(const std::string& out) {
    static const std::regex line(R"(errors: (\d+) not connected, (\d+) closed before any reply, (\d+) short )"
                                 R"(replies, (\d+) error replies, (\d+) timeouts, (\d+) client children died)");
    ClientErrors errors;
    std::smatch match;
    for (const auto& text : lines(out)) {
        if (!std::regex_match(text, match, line)) continue;
        errors = {std::stol(match[1]), std::stol(match[2]), std::stol(match[3]),
                  std::stol(match[4]), std::stol(match[5]), std::stol(match[6])};
    }
    return errors;
}

// The good connections of the load client's summary line, or -1.
long client_connections(const std::string& out) {
    static const std::regex summary(R"(\d+ children x .*: (\d+) connections?, \d+ bytes?, \d+ errors?, .*)");
    std::smatch match;
    for (const auto& text : lines(out))
        if (std::regex_match(text, match, summary)) return std::stol(match[1]);
    return -1;
}

std::vector<ModelCase> models_of_04() {
    return {{k04, "iterative", false, false}, {k04, "fork", true, false},  {k04, "nolock", false, true},
            {k04, "flock", false, true},      {k04, "mutex", false, true}, {k04, "pass", false, true},
            {k04, "hybrid", false, true}};
}

std::vector<ModelCase> models_of_05() {
    return {{k05, "thread", true, false}, {k05, "accept", false, true}, {k05, "main", false, true}};
}

}  // namespace

// ------------------------------------------------------------------------------------------- every model

class FaultsByteCount : public testing::TestWithParam<ModelCase> {};

INSTANTIATE_TEST_SUITE_P(Lab04, FaultsByteCount, testing::ValuesIn(models_of_04()), byte_count_suite::case_name);
INSTANTIATE_TEST_SUITE_P(Lab05, FaultsByteCount, testing::ValuesIn(models_of_05()), byte_count_suite::case_name);

// Requests on one connection; the client resets in the middle of the second reply (of 8 MiB). Only that
// connection ends ("vanished"); the server holds nothing more than before and serves the next client.
TEST_P(FaultsByteCount, AResetInTheMiddleOfALaterReplyLeavesNothingBehind) {
    auto [server, port] = start(GetParam(), 2);
    const faults::Footprint before = faults::footprint(*server);
    // The second reply is 8 MiB (eight requests), more than the loopback's socket buffers hold: the server
    // is still writing when the reset comes.
    std::string requests = "100\n";
    for (int i = 0; i < 8; ++i) requests += "1048576\n";
    const std::string got = faults::reset_mid_reply(port, requests, 100 + 5000);
    EXPECT_EQ(got.size(), 5100u);
    ASSERT_TRUE(server->wait_for_text(": vanished in the middle of a reply"));
    Connection next(port);
    byte_count_suite::expect_reply(next, 4000);
    next.close();
    faults::expect_nothing_left(*server, before);
}

// "No more requests" (shutdown SHUT_WR) right after three: the FIN arrives before the replies are written,
// and every reply still arrives whole, then the server closes.
TEST_P(FaultsByteCount, AHalfCloseAfterTheRequestsStillGetsEveryReplyWhole) {
    auto [server, port] = start(GetParam(), 2);
    const faults::Footprint before = faults::footprint(*server);
    const std::string reply = faults::half_close(port, "1000\n1048576\n3\n");
    EXPECT_EQ(reply.size(), 1000u + 1048576u + 3u) << "the replies, then EOF, nothing else";
    EXPECT_EQ(reply.substr(0, 3), "abc");
    EXPECT_EQ(server->out().find("error:"), std::string::npos) << server->out();
    faults::expect_nothing_left(*server, before);
}

// A request (and a second one, with a CR) sent a byte at a time: the server waits for the newline and
// answers each in full.
TEST_P(FaultsByteCount, ARequestSentAByteAtATimeIsAnsweredWhole) {
    auto [server, port] = start(GetParam(), 2);
    const faults::Footprint before = faults::footprint(*server);
    {
        auto slow = faults::trickle(port, "4000\n", 2ms);
        EXPECT_EQ(slow->read_exact(4000).size(), 4000u);
        for (const char byte : std::string("12\r\n")) {
            slow->send(std::string_view(&byte, 1));
            std::this_thread::sleep_for(2ms);  // pacing the client
        }
        EXPECT_EQ(slow->read_exact(12).size(), 12u);
        slow->shutdown_write();
        EXPECT_EQ(slow->read_all(), "") << "nothing more, then EOF";
    }
    faults::expect_nothing_left(*server, before);
}

// A client asks for 8 MiB and never reads it: the server's write blocks. In every model but iterative,
// that holds one worker (process or thread) only, and another client is served at once, well before the
// idle timeout (10 s) could free anything. The iterative server serves one client at a time: the other
// client waits until the write gives up after --idle-timeout (1 s here), logged as `vanished`.
TEST_P(FaultsByteCount, AClientThatNeverReadsHoldsOnlyItsOwnWorker) {
    const bool iterative = is_iterative(GetParam());
    auto [server, port] =
        start(GetParam(), 2, iterative ? std::vector<std::string>{"--idle-timeout", "1"} : std::vector<std::string>{});
    const faults::Footprint before = faults::footprint(*server);
    std::string requests;  // 8 MiB: more than the loopback's socket buffers hold, so the write blocks
    for (int i = 0; i < 8; ++i) requests += "1048576\n";
    auto stuck = faults::never_reads(port, requests);
    Connection other(port);
    byte_count_suite::expect_reply(other, 4000);
    other.close();
    if (iterative) {
        EXPECT_TRUE(server->wait_for_text(": vanished in the middle of a reply (write timed out"))
            << "the blocked write was not given up on";
    } else {
        EXPECT_EQ(server->out().find("vanished"), std::string::npos)
            << "the stuck write was given up on: " << server->out();
        EXPECT_EQ(server->out().find("idle for"), std::string::npos);
    }
    stuck.reset();  // closed with unread data: a reset, and the server's blocked write fails at once
    faults::expect_nothing_left(*server, before);
}

// Descriptor exhaustion. The server runs with RLIMIT_NOFILE 16 and is saturated: as many clients as it
// can hold are served and stay connected; four more send a request. Lab 05's one process runs out of
// descriptors (accept fails with EMFILE: logged once, retried every 100 ms); lab 04's processes each hold
// one connection, so there the pool (3 workers), --max-clients 3 (fork) or the single iterative client
// is the bound. Either way, while saturated the server (children included) uses almost no CPU, answers
// nobody wrongly, and once the first clients leave, every waiting one is served.
TEST_P(FaultsByteCount, OutOfDescriptorsItWaitsWithoutSpinningThenServesEveryone) {
    const ModelCase& c = GetParam();
    // Lab 05 runs out of descriptors for real: release build only, as the sanitizers' runtimes need
    // descriptors of their own (UBSan's type check opens a pipe; TSan's thread start too), so with none
    // left they report errors of their own making. Lab 04's processes never run out: every build.
    if (!is_04(c) && sanitized()) GTEST_SKIP() << "needs the release build";
    const rlim_t limit = 16;
    const int workers = is_04(c) ? 3 : 16;  // lab 05: more threads than descriptors
    std::vector<std::string> extra = {"--idle-timeout", "0"};
    if (c.model == "fork") extra.insert(extra.end(), {"--max-clients", "3"});
    Options options;
    options.rlimits = {{RLIMIT_NOFILE, limit}};
    auto [server, port] = start(c, workers, extra, options);
    const faults::Footprint before = faults::footprint(*server);
    ASSERT_LT(before.fds, static_cast<int>(limit) - 2) << "the idle server already holds most of its descriptors";

    int capacity = 3;                       // lab 04's pools, and fork with --max-clients 3
    if (c.model == "hybrid") capacity = 6;  // 3 children of 2 threads (byte_count_suite::server_args)
    if (is_iterative(c)) capacity = 1;
    if (!is_04(c)) capacity = free_descriptors_below(server->pid(), static_cast<int>(limit));  // one per client
    ASSERT_GT(capacity, 0);
    std::vector<std::unique_ptr<Connection>> holders, waiters;
    for (int i = 0; i < capacity; ++i) {
        holders.push_back(std::make_unique<Connection>(port));
        byte_count_suite::expect_reply(*holders.back(), 1);  // served, and now holding its worker
    }
    for (int i = 0; i < 4; ++i) {
        waiters.push_back(std::make_unique<Connection>(port));
        waiters.back()->send(std::to_string(100 + i) + "\n");
        waiters.back()->shutdown_write();  // one request only: once answered, its worker is free again
    }
    if (!is_04(c)) {
        ASSERT_TRUE(server->wait_for_text("out of descriptors (accept: Too many open files): waiting"));
    } else if (c.model == "fork") {
        ASSERT_TRUE(server->wait_for_text("max-clients 3 reached"));
    }
    // Saturated: measure the CPU it uses for 0.6 s (a spinning loop would use a large part of it, even on a
    // busy machine; waiting uses next to nothing).
    const double cpu_before = server->cpu_seconds();
    std::this_thread::sleep_for(600ms);  // the measuring window, not a wait for readiness
    const double used = server->cpu_seconds() - cpu_before;
    EXPECT_LT(used, 0.06) << "CPU seconds used in 0.6 s while saturated: spinning?";
    for (const auto& waiter : waiters) EXPECT_FALSE(readable_now(*waiter)) << "served beyond the bound";
    EXPECT_TRUE(server->running());

    holders.clear();  // descriptors (and workers) free again
    for (size_t i = 0; i < waiters.size(); ++i)
        EXPECT_EQ(waiters[i]->read_all().size(), 100 + i) << "waiting client " << i << " not served whole";
    waiters.clear();
    if (!is_04(c)) {
        EXPECT_EQ(server->count_matching(std::regex(R"(.*: out of descriptors .*: waiting)")), 1u) << "logged once";
    }
    faults::expect_nothing_left(*server, before);
}

// Slowloris: connections that send nothing, or half a request, and hold on. With --idle-timeout 1 each
// is closed a second after it was accepted, so a pool of 4 held by 4 of them serves a well-behaved client
// that came after them (with --idle-timeout 0 it would wait forever:
// ByteCountServer.WithItsOnlyWorkerBusyTheNextClientWaits).
TEST_P(FaultsByteCount, SlowlorisConnectionsAreTimedOutAndThePoolServesOthers) {
    const ModelCase& c = GetParam();
    const size_t count = is_iterative(c) ? 2 : c.per_client ? 8 : 4;  // as many as the pool has workers
    auto [server, port] = start(c, 4, {"--idle-timeout", "1"});
    const faults::Footprint before = faults::footprint(*server);
    auto silent = faults::slowloris(port, count / 2);
    auto half_sent = faults::slowloris(port, count - count / 2, "40");
    Connection good(port);
    good.send("4000\n");
    EXPECT_EQ(good.read_exact(4000, 15s).size(), 4000u) << "the well-behaved client was not served";
    for (auto* group : {&silent, &half_sent})
        for (const auto& connection : *group) EXPECT_TRUE(connection->wait_closed()) << "a slowloris stayed open";
    // Each of them logged as timed out (the well-behaved client may be too, once it idles after its reply).
    std::string ports;
    for (auto* group : {&silent, &half_sent})
        for (const auto& connection : *group)
            ports += (ports.empty() ? "" : "|") + std::to_string(connection->local_port());
    const std::regex timed_out(R"(.*: 127\.0\.0\.1:()" + ports + R"(): idle for 1 s, closed)");
    EXPECT_TRUE(wait_until([&] { return server->count_matching(timed_out) >= count; }));
    EXPECT_EQ(server->count_matching(timed_out), count);
    good.close();
    silent.clear();
    half_sent.clear();
    faults::expect_nothing_left(*server, before);
}

// SIGPIPE sent to the server (and its children): ignored, as it must be for a server writing to clients
// that may vanish. The connection in progress and new ones are served.
TEST_P(FaultsByteCount, SigpipeDoesNotKillTheServer) {
    auto [server, port] = start(GetParam(), 2);
    const faults::Footprint before = faults::footprint(*server);
    Connection connected(port);
    byte_count_suite::expect_reply(connected, 10);
    server->signal_group(SIGPIPE);
    byte_count_suite::expect_reply(connected, 20);
    connected.close();
    Connection next(port);
    byte_count_suite::expect_reply(next, 30);
    next.close();
    EXPECT_TRUE(server->running());
    faults::expect_nothing_left(*server, before);
}

// A stop signal while the real load client runs and a 1 MiB reply is in the middle of being written:
// exit 0 and one summary; the reply in progress arrives whole; the load client saw no reply cut short,
// no `error:` line and no timeout (only connections refused or closed unanswered once the server stopped
// accepting); the server answered every connection the client counts; no process of the server is left.
void stop_during_load(const ModelCase& c, int signo, bool whole_group) {
    auto [server, port] = start(c, 3);
    Process load(byte_count_suite::client_args(c, port, 3, 1000, 4000, {"--timeout", "20"}));
    ASSERT_TRUE(wait_until([&] { return port_has_connections(port); })) << "the load client never connected";
    Connection big(port);
    big.send("1048576\n");
    ASSERT_EQ(big.read_exact(1000).size(), 1000u);  // being served now
    if (whole_group)
        server->signal_group(signo);  // as a terminal does (Ctrl-C, or the terminal closed)
    else
        server->signal(signo);
    EXPECT_EQ(big.read_exact(1048576 - 1000, 20s).size(), 1048576u - 1000) << "the reply in progress was cut";
    EXPECT_TRUE(big.wait_closed());
    ASSERT_EQ(server->wait_exit(20s), 0);
    server->wait_output_closed();
    EXPECT_TRUE(group_gone(server->pid())) << "a child outlived the server";
    const auto summary = byte_count_suite::parse_summary(server->out_lines());
    EXPECT_EQ(summary.stopped_lines, 1);
    const auto out_lines = server->out_lines();
    EXPECT_NE(std::find(out_lines.begin(), out_lines.end(), "server stopped by " + netutil::signal_name(signo)),
              out_lines.end());
    EXPECT_EQ(server->out().find("grace period over"), std::string::npos);

    const auto status = load.wait_exit(60s);
    ASSERT_TRUE(status.has_value());
    const ClientErrors errors = client_errors(load.out());
    EXPECT_EQ(errors.short_replies, 0) << load.out() << load.err();
    EXPECT_EQ(errors.error_replies, 0) << load.out();
    EXPECT_EQ(errors.timeouts, 0) << load.out();
    EXPECT_EQ(errors.died, 0) << load.out();
    const long good = client_connections(load.out());
    ASSERT_GE(good, 0) << load.out();
    EXPECT_LE(good + 1, summary.total) << "the client counts more connections than the server served";
    EXPECT_EQ(*status == 0, good == 3 * 1000) << load.out();
}

TEST_P(FaultsByteCount, CtrlCDuringLoadAnswersEveryAcceptedRequestAndExitsZero) {
    stop_during_load(GetParam(), SIGINT, true);
}

TEST_P(FaultsByteCount, SigtermDuringLoadAnswersEveryAcceptedRequestAndExitsZero) {
    stop_during_load(GetParam(), SIGTERM, false);
}

// The kit's policy: SIGHUP (the terminal closed: the whole foreground group gets it) is a graceful stop,
// exactly like SIGTERM, in the server and in its children.
TEST_P(FaultsByteCount, SighupDuringLoadIsAGracefulStopLikeSigterm) { stop_during_load(GetParam(), SIGHUP, true); }

// ------------------------------------------------------------------------------------------- lab 04's pools

class FaultsProcessPool : public testing::TestWithParam<ModelCase> {};

INSTANTIATE_TEST_SUITE_P(Lab04, FaultsProcessPool,
                         testing::Values(ModelCase{k04, "nolock", false, true}, ModelCase{k04, "flock", false, true},
                                         ModelCase{k04, "mutex", false, true}, ModelCase{k04, "pass", false, true},
                                         ModelCase{k04, "hybrid", false, true}),
                         byte_count_suite::case_name);

// A child killed (kill -9) while it writes a reply: its client sees the connection end, nothing else does;
// the parent reaps and replaces it (no zombie), and the pool, back to its size, serves on.
TEST_P(FaultsProcessPool, AChildKilledInTheMiddleOfAReplyIsReplacedAndCostsOnlyThatClient) {
    auto [server, port] = start(GetParam(), 2);
    const faults::Footprint before = faults::footprint(*server);
    Connection victim_client(port);
    std::string requests;  // 8 MiB: more than the socket buffers hold, so the child blocks writing
    for (int i = 0; i < 8; ++i) requests += "1048576\n";
    victim_client.send(requests);
    ASSERT_EQ(victim_client.read_exact(1000).size(), 1000u);
    // The child serving it is blocked writing (the client reads no more for now).
    pid_t busy = -1;
    ASSERT_TRUE(wait_until([&] {
        for (const pid_t child : server->children())
            if (some_thread_blocked_in(child, SYS_sendto) || some_thread_blocked_in(child, SYS_write)) busy = child;
        return busy > 0;
    })) << "no child found writing";
    ASSERT_EQ(::kill(busy, SIGKILL), 0);
    EXPECT_TRUE(server->wait_for_match(
        std::regex(R"(child \d \(pid )" + std::to_string(busy) + R"(\) killed by SIGKILL: replaced by pid \d+)")));
    EXPECT_LT(victim_client.read_all().size(), 8u * 1048576u - 1000) << "the replies cannot be whole";
    ASSERT_TRUE(byte_count_suite::wait_for_children(*server, 2));
    Connection next(port);
    byte_count_suite::expect_reply(next, 4000);
    next.close();
    faults::expect_nothing_left(*server, before);
}

// ------------------------------------------------------------------------------------------- per-client models

class FaultsPerClient : public testing::TestWithParam<ModelCase> {};

INSTANTIATE_TEST_SUITE_P(Lab04, FaultsPerClient, testing::Values(ModelCase{k04, "fork", true, false}),
                         byte_count_suite::case_name);
INSTANTIATE_TEST_SUITE_P(Lab05, FaultsPerClient, testing::Values(ModelCase{k05, "thread", true, false}),
                         byte_count_suite::case_name);

// --max-clients 2: two clients are served at once, never a third; the cap is logged once however often
// it is reached; every waiting client is served as places free up.
TEST_P(FaultsPerClient, MaxClientsCapsTheWorkersAndSaysSoOnce) {
    const ModelCase& c = GetParam();
    auto [server, port] = start(c, 1, {"--max-clients", "2", "--idle-timeout", "0"});
    const faults::Footprint before = faults::footprint(*server);
    std::vector<std::unique_ptr<Connection>> served, waiting;
    for (int i = 0; i < 2; ++i) {
        served.push_back(std::make_unique<Connection>(port));
        byte_count_suite::expect_reply(*served.back(), 10);
    }
    for (int i = 0; i < 3; ++i) {
        waiting.push_back(std::make_unique<Connection>(port));
        waiting.back()->send(std::to_string(50 + i) + "\n");
    }
    const std::string what = is_04(c) ? "child" : "thread";
    ASSERT_TRUE(
        server->wait_for_line("max-clients 2 reached: new clients wait in the backlog until a " + what + " ends"));
    if (is_04(c)) {
        EXPECT_EQ(server->children().size(), 2u) << "a child per client, at most 2";
    } else if (exact_thread_counts()) {
        EXPECT_EQ(server->thread_count(), 3) << "the main thread and at most 2 client threads";
    }
    for (const auto& connection : waiting) EXPECT_FALSE(readable_now(*connection));
    // Both places free: the first two waiting clients are served (and hold the places); then the third.
    served.clear();
    EXPECT_EQ(waiting[0]->read_exact(50).size(), 50u);
    EXPECT_EQ(waiting[1]->read_exact(51).size(), 51u);
    EXPECT_FALSE(readable_now(*waiting[2]));
    waiting[0]->close();
    EXPECT_EQ(waiting[2]->read_exact(52).size(), 52u);
    waiting.clear();
    EXPECT_EQ(server->count_matching(std::regex("max-clients 2 reached: .*")), 1u) << "said once";
    faults::expect_nothing_left(*server, before);
}

// ------------------------------------------------------------------------------------------- nohup

// Started with SIGHUP ignored (`nohup ./server ...`: meant to outlive its terminal), a server leaves it
// ignored, in the parent and in the children: a SIGHUP to the whole group changes nothing.
class FaultsSighup : public testing::TestWithParam<ModelCase> {};

INSTANTIATE_TEST_SUITE_P(Lab04, FaultsSighup, testing::Values(ModelCase{k04, "nolock", false, true}),
                         byte_count_suite::case_name);
INSTANTIATE_TEST_SUITE_P(Lab05, FaultsSighup, testing::Values(ModelCase{k05, "accept", false, true}),
                         byte_count_suite::case_name);

TEST_P(FaultsSighup, UnderNohupSighupIsIgnoredByTheServerAndItsChildren) {
    const ModelCase& c = GetParam();
    std::vector<std::string> args = byte_count_suite::server_args(c, 2);
    args.insert(args.begin(), "/usr/bin/nohup");
    Process server(args, {.name = "nohup server"});
    const uint16_t port = server.wait_for_listening();
    if (is_04(c)) {
        ASSERT_TRUE(byte_count_suite::wait_for_children(server, 2));
    } else {
        server.wait_for_line("thread 0 starting");
        server.wait_for_line("thread 1 starting");
        if (exact_thread_counts()) {
            EXPECT_TRUE(server.wait_for_thread_count(3));
        }
    }
    const faults::Footprint before = faults::footprint(server);
    Connection connected(port);
    byte_count_suite::expect_reply(connected, 10);
    server.signal_group(SIGHUP);
    byte_count_suite::expect_reply(connected, 20);  // the worker serving it is still there
    connected.close();
    Connection next(port);
    byte_count_suite::expect_reply(next, 30);
    next.close();
    EXPECT_TRUE(server.running());
    EXPECT_EQ(server.out().find("stopped"), std::string::npos) << server.out();
    EXPECT_EQ(server.out().find("replaced"), std::string::npos) << "a child died of the SIGHUP";
    faults::expect_nothing_left(server, before);
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0);
}
