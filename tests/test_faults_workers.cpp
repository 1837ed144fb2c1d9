// Fault injection for the labs whose servers work through other processes: lab 03_udp_mp (UDP; fork, pool and
// conversation children) and the manager/worker labs 09_mandelbrot and 10_pi_montecarlo.
//
// Slides: the lecture "Client-server architecture model: with sockets and multiprocessing in Python", slide
// "Considerations" ("What happens when something goes wrong?"); the lecture "Multithreaded Servers" (lecture
// 32), slide "Manager/Worker Paradigm". Also the robustness issue of the kit (fault injection, bounded
// resources). Every test runs the real programs.
// Suites: Lab03FaultsUdp and Lab03/FaultsUdpSignals (lab 03); Lab09/FaultsManager and Lab10/FaultsManager
// (one parameterized suite, instantiated once per manager/worker lab).
//
// The map of the faults, and where each is tested (the existing lab tests are not repeated here):
//   03 UDP                                    test
//   killed pool worker, idle                  test_03_udp_mp: Lab03UdpPool.AKilledWorkerIsReplacedAndThePoolServesOn
//   killed fork child / pool worker /         Lab03FaultsUdp.ForkChildKilledMidRequest...,
//     conversation child, mid-request           PoolWorkerKilledMidRequest..., ConversationChildKilledMidConversation
//   SIGINT (group), SIGTERM (parent), SIGHUP  Lab03/FaultsUdpSignals.* (every mode, during load from the real client
//     (group) during load                       with --processes: exit 0, one summary, every datagram received
//                                               answered, no process left)
//   Ctrl-C / SIGTERM while idle               test_03_udp_mp: Lab03/Modes.CtrlCToTheGroup..., .SigtermToTheParent...
//   SIGPIPE                                   Lab03FaultsUdp.SigpipeIsHarmless
//   --max-children reached                    Lab03FaultsUdp.MaxChildrenIsSaidOnceAndServesOn (fork, conversation),
//                                               test_03_udp_mp: Lab03UdpConversation.AFullServerSaysBusy...
//   strangers' datagrams, 200 clients at once test_03_udp_mp: Lab03UdpConversation.StrangersRandomDatagrams...,
//     (conversation)                            Lab03UdpConversation.TwoHundredClientsAtOnce...
//   low RLIMIT_NOFILE (conversation)          Lab03FaultsUdp.ConversationsNeedNoDescriptorOfTheParent
//   garbage, empty, 64 KiB datagrams          test_03_udp_mp: Lab03/Modes.GarbageEmptyAndMaximumSizeDatagrams
//   09/10 manager/worker                      test
//   worker killed mid-run (work redone)       test_09: Lab09/Schedules.WorkerKilledMidRunLosesNothing;
//                                               test_10: Lab10PiMonteCarlo.WorkerKilledMidJobLosesNothing
//   no worker left                            test_09/test_10: *.NoWorkerLeftExitsNonZero
//   wrong answers, bad peers                  test_09/test_10: *.WrongAnswersAreRejectedAndRedone / ...Redone,
//                                               *.BadPeersAreTurnedAway
//   Ctrl-C of the manager                     test_09/test_10: *.CtrlCStopsManagerAndWorkersCleanly
//   a worker that stalls and never reads      */FaultsManager.StalledWorkerTimesOutAndItsWorkIsRedone
//   a worker reset mid-message                */FaultsManager.WorkerResetMidMessageIsRedone
//   HELLO a byte at a time                    */FaultsManager.HelloAByteAtATimeIsAccepted
//   half-close after HELLO                    */FaultsManager.HalfCloseAfterHelloLeavesBeforeTheStart
//   slowloris while workers join              */FaultsManager.SlowlorisIsTurnedAwayAndWorkersStillJoin
//   low RLIMIT_NOFILE on the manager          */FaultsManager.OutOfDescriptorsWaitsWithoutSpinning
//   SIGTERM, SIGHUP of the manager            */FaultsManager.SigtermAndSighupStopTheRunCleanly
//   SIGPIPE                                   */FaultsManager.SigpipeIsHarmless
//   SIGHUP under nohup (stays ignored)        */FaultsManager.UnderNohupSighupIsIgnored
// After each fault the server's footprint is checked (faults::expect_nothing_left) while it still runs;
// where the fault ends the server, its process group must be gone.
#include "tests/faults.hpp"
#include "tests/harness.hpp"
#include "tests/worker_helpers.hpp"

#include "09_mandelbrot/mandelbrot.hpp"
#include "10_pi_montecarlo/montecarlo.hpp"
#include "netutil/signals.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <sys/resource.h>
#include <unistd.h>

using namespace harness;
using worker_helpers::with;

namespace {

const std::string kUdpServer = program("03_udp_mp", "server");
const std::string kUdpClient = program("03_udp_mp", "client");

// Spinning for the half second or more these waits last would use 0.5 s of CPU and more; waiting uses ~0.
// Measured with harness::cpu_seconds(pid): the parent alone, whose children do the work.
constexpr double kLowCpuSeconds = 0.2;

// Waits until at least `count` stdout lines match; the number that match.
size_t wait_count(const Process& process, const std::regex& pattern, size_t count, Duration timeout = 10s) {
    wait_until([&] { return process.count_matching(pattern) >= count; }, timeout);
    return process.count_matching(pattern);
}

// Waits until the process holds at least `count` descriptors (a connection accepted shows only there).
bool wait_fd_count(const Process& process, int count, Duration timeout = 10s) {
    return wait_until([&] { return process.open_fd_count() >= count; }, timeout);
}

// UBSan's checks need descriptors of their own at any moment (reading /proc/self/maps): with RLIMIT_NOFILE
// at the program's exact need they fail and report errors that are not the program's. The descriptor
// tests run in the release and TSan builds.
bool descriptors_are_tight_for_the_sanitizer() {
    const char* variant = std::getenv("LABKIT_VARIANT");
    return variant != nullptr && std::string(variant) == "asan";
}

std::string signal_label(int signo) { return signo == SIGINT ? "Sigint" : signo == SIGTERM ? "Sigterm" : "Sighup"; }

// The lowest descriptor number a process does not use: the next one it would open. (Descriptors inherited
// from outside, above a gap, do not count: RLIMIT_NOFILE limits the numbers of new descriptors.)
int lowest_free_fd(pid_t pid) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd/";
    int fd = 0;
    while (::access((dir + std::to_string(fd)).c_str(), F_OK) == 0) ++fd;
    return fd;
}

// The footprint of a 03 server once its loop runs (its signalfd is opened after the listening line):
// taken after one request was answered.
faults::Footprint settled_footprint(Process& server, uint16_t port, size_t children = 0) {
    // The client's timeout is well above any --delay-ms a test gives: a retry here would leave a second child.
    const Result first = run({kUdpClient, "localhost", std::to_string(port), "settle", "--timeout",
                              std::to_string(scaled(6s).count() / 1000.0), "--retries", "0"});
    EXPECT_EQ(first.status, 0) << first.err;
    EXPECT_EQ(first.out.find("sent again"), std::string::npos) << first.out;
    wait_until([&] { return server.children().size() <= children; }, scaled(5s));  // the child that answered exits
    return faults::footprint(server);
}

// Waits until the server has `count` children (a fork comes a moment after its log line).
std::vector<pid_t> wait_children(const Process& server, size_t count) {
    wait_until([&] { return server.children().size() >= count; }, 5s);
    return server.children();
}

pid_t number_at_end(const std::string& line) { return static_cast<pid_t>(std::stol(line.substr(line.rfind(' ') + 1))); }

// ================================================================================================ 03 UDP

// A killed fork child: the parent reaps it; the client, with no reply, sends again; a new child answers.
TEST(Lab03FaultsUdp, ForkChildKilledMidRequestIsAnsweredOnRetry) {
    // The child must still be there when the test looks for it: a delay long enough also under load.
    Process server({kUdpServer, "0", "--mode", "fork", "--delay-ms", std::to_string(scaled(1000ms).count())});
    const uint16_t port = server.wait_for_listening();
    const faults::Footprint before = settled_footprint(server, port);
    Process client({kUdpClient, "localhost", std::to_string(port), "first try", "--timeout",
                    std::to_string(scaled(2500ms).count() / 1000.0), "--retries", "3"});
    ASSERT_TRUE(server.wait_for_match(std::regex("Received message 'first try' at .*")));
    const std::vector<pid_t> children = wait_children(server, 1);
    ASSERT_EQ(children.size(), 1u) << "the child answering, in its --delay-ms";
    ASSERT_EQ(::kill(children[0], SIGKILL), 0);
    EXPECT_EQ(client.wait_exit(scaled(15s)), 0);
    EXPECT_TRUE(client.wait_for_text("sent again (retry 1 of 3)"));
    const auto reply = client.wait_for_match(std::regex("Received message from server: Hi .* This is server \\d+"));
    ASSERT_TRUE(reply);
    EXPECT_NE(number_at_end(*reply), children[0]) << "the killed child cannot have answered";
    faults::expect_nothing_left(server, before);
}

// A pool worker killed while it holds a datagram: replaced; the client's retry is served by the pool.
TEST(Lab03FaultsUdp, PoolWorkerKilledMidRequestIsReplacedAndTheRetryAnswered) {
    Process server({kUdpServer, "0", "--mode", "pool", "--workers", "2", "--delay-ms", "300"});
    const uint16_t port = server.wait_for_listening();
    std::map<std::string, pid_t> pids;
    for (const std::string index : {"0", "1"}) {
        const auto line = server.wait_for_match(std::regex("worker " + index + " is process \\d+"));
        ASSERT_TRUE(line);
        pids[index] = number_at_end(*line);
    }
    const faults::Footprint before = settled_footprint(server, port, 2);
    Process client({kUdpClient, "localhost", std::to_string(port), "hold this", "--timeout",
                    std::to_string(scaled(1500ms).count() / 1000.0), "--retries", "3"});
    const auto taken = server.wait_for_match(std::regex("worker (\\d): Received message 'hold this' at .*"));
    ASSERT_TRUE(taken);
    const std::string index = taken->substr(7, 1);
    ASSERT_EQ(::kill(pids[index], SIGKILL), 0);
    EXPECT_TRUE(server.wait_for_match(std::regex("worker " + index + " \\(process " + std::to_string(pids[index]) +
                                                 "\\) ended, killed by SIGKILL: starting a new one")));
    EXPECT_EQ(client.wait_exit(scaled(15s)), 0);
    const auto reply = client.wait_for_match(std::regex("Received message from server: Hi .* This is server \\d+"));
    ASSERT_TRUE(reply);
    EXPECT_NE(number_at_end(*reply), pids[index]);
    EXPECT_EQ(server.children().size(), 2u) << "the pool is whole again";
    faults::expect_nothing_left(server, before);
}

// A conversation child killed mid-conversation: its port is closed, which the client's connected socket
// learns on its retry (ICMP port unreachable); it goes back to the well-known port, a new conversation
// answers, and the client finishes its requests and says bye there.
TEST(Lab03FaultsUdp, ConversationChildKilledMidConversationIsRestartedOnRetry) {
    Process server({kUdpServer, "0", "--mode", "conversation", "--delay-ms", "200", "--idle-timeout", "0.5"});
    const uint16_t port = server.wait_for_listening();
    const faults::Footprint before = settled_footprint(server, port);
    Process client({kUdpClient, "localhost", std::to_string(port), "talk", "--count", "3", "--timeout",
                    std::to_string(scaled(1s).count() / 1000.0), "--retries", "3"});
    // Mid-conversation: its second datagram has arrived at its child, the reply is in its --delay-ms.
    const auto second = server.wait_for_match(std::regex("(\\d+): Received message 'talk'"));
    ASSERT_TRUE(second);
    const pid_t child = static_cast<pid_t>(std::stol(second->substr(0, second->find(':'))));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    EXPECT_EQ(client.wait_exit(scaled(20s)), 0);
    EXPECT_TRUE(client.wait_for_text(" is closed: its child is gone"));
    EXPECT_TRUE(client.wait_for_text(", for a new conversation (retry "));
    EXPECT_TRUE(client.wait_for_text("The server said bye\nSocket closed\n"));
    EXPECT_EQ(wait_count(server, std::regex("\\d+: talks with .*"), 3), 3u) << "settle, talk, talk again";
    faults::expect_nothing_left(server, before);
}

// A stray SIGPIPE (there is no pipe to break in UDP, but a kill -PIPE or a closed log pipe) kills no one.
TEST(Lab03FaultsUdp, SigpipeIsHarmless) {
    Process server({kUdpServer, "0", "--mode", "pool", "--workers", "2"});
    const uint16_t port = server.wait_for_listening();
    ASSERT_EQ(wait_count(server, std::regex("worker \\d is process \\d+"), 2), 2u);
    const faults::Footprint before = settled_footprint(server, port, 2);
    server.signal_group(SIGPIPE);
    const Result client = run({kUdpClient, "localhost", std::to_string(port), "after SIGPIPE"});
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_EQ(server.count_matching(std::regex(".* ended, .*")), 0u) << "no worker died";
    faults::expect_nothing_left(server, before);
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0);
}

// --max-children: at the limit fork stops reading (datagrams wait in the socket buffer, one long timeout
// and one retry are enough), conversation keeps reading and answers new clients busy (their retries, a second
// apart, get through as conversations end); each says so once in its log however often the limit is reached,
// and every client is answered.
TEST(Lab03FaultsUdp, MaxChildrenIsSaidOnceAndServesOn) {
    struct Case {
        std::string mode, full_line;
        std::vector<std::string> client;
    };
    const auto seconds = [](Duration d) { return std::to_string(scaled(d).count() / 1000.0); };
    for (const Case& c : {Case{"fork",
                               "2 children running \\(--max-children\\): .*",
                               {"--processes", "8", "--timeout", seconds(10s), "--retries", "1"}},
                          Case{"conversation",
                               "2 conversations going on \\(--max-children\\): .*",
                               {"--processes", "5", "--count", "2", "--timeout", seconds(1s), "--retries", "10"}}}) {
        SCOPED_TRACE(c.mode);
        Process server({kUdpServer, "0", "--mode", c.mode, "--max-children", "2", "--delay-ms", "100"});
        const uint16_t port = server.wait_for_listening();
        const faults::Footprint before = settled_footprint(server, port);
        const Result clients = run(with({kUdpClient, "localhost", std::to_string(port)}, c.client), "", scaled(60s));
        EXPECT_EQ(clients.status, 0) << clients.out << clients.err;
        EXPECT_EQ(server.count_matching(std::regex(c.full_line)), 1u) << "said once";
        faults::expect_nothing_left(server, before);
        server.signal(SIGTERM);
        EXPECT_EQ(server.wait_exit(), 0);
        EXPECT_TRUE(
            server.wait_for_match(std::regex("server stopped by SIGTERM: .*the --max-children limit \\(2\\) "
                                             "was reached \\d+ times?\\)?")));
    }
}

// Conversation mode with a low RLIMIT_NOFILE: each conversation's socket is its child's, never the parent's,
// so the parent's descriptors are the same for 1 or 10 conversations: at exactly its own need it serves
// them all, and its CPU stays low while they wait; below its need it stops at once with the reason.
TEST(Lab03FaultsUdp, ConversationsNeedNoDescriptorOfTheParent) {
    if (descriptors_are_tight_for_the_sanitizer()) GTEST_SKIP() << "UBSan needs spare descriptors (see above)";
    int need = 0;
    {
        Process probe({kUdpServer, "0", "--mode", "conversation", "--idle-timeout", "0.1"});
        const uint16_t port = probe.wait_for_listening();
        ASSERT_EQ(run({kUdpClient, "localhost", std::to_string(port), "count your descriptors"}).status, 0);
        need = lowest_free_fd(probe.pid());  // the parent's loop is running: every descriptor it keeps is open
    }
    ASSERT_GT(need, 3);
    Process server({kUdpServer, "0", "--mode", "conversation", "--delay-ms", "50"},
                   {.rlimits = {{RLIMIT_NOFILE, static_cast<unsigned long>(need)}}});
    const uint16_t port = server.wait_for_listening();
    const faults::Footprint before = settled_footprint(server, port);
    const double cpu_before = cpu_seconds(server.pid());
    const Result clients = run({kUdpClient, "localhost", std::to_string(port), "--processes", "10", "--count", "3",
                                "--timeout", std::to_string(scaled(5s).count() / 1000.0), "--retries", "1"},
                               "", scaled(60s));
    EXPECT_EQ(clients.status, 0) << clients.out << clients.err;
    EXPECT_NE(clients.out.find("10 of 10 client processes got their replies"), std::string::npos);
    EXPECT_EQ(server.count_matching(std::regex("\\d+: talks with .*")), 1u + 10u) << "the settling one and ten";
    EXPECT_LT(cpu_seconds(server.pid()) - cpu_before, kLowCpuSeconds) << "the parent only forks: it must not spin";
    faults::expect_nothing_left(server, before);

    const Result starved = run({kUdpServer, "0", "--mode", "conversation"}, "", 10s,
                               {.rlimits = {{RLIMIT_NOFILE, static_cast<unsigned long>(need - 1)}}});
    EXPECT_EQ(starved.status, 1);
    EXPECT_NE(starved.err.find("Too many open files"), std::string::npos) << starved.err;
    EXPECT_EQ(lines(starved.err).size(), 1u) << starved.err;
}

// ---------------------------------------------------------------------- 03: signals during load, every mode

struct UdpSignalCase {
    std::string mode;
    int signo;
    bool group;  // to the whole process group (a terminal's Ctrl-C or hang-up), or to the parent alone (kill)
};
void PrintTo(const UdpSignalCase& c, std::ostream* out) { *out << c.mode << " " << netutil::signal_name(c.signo); }

class FaultsUdpSignals : public testing::TestWithParam<UdpSignalCase> {};

// What a mode logs for a datagram received, and for one answered.
std::pair<std::vector<std::regex>, std::vector<std::regex>> received_and_answered(const std::string& mode) {
    if (mode == "iterative")
        return {{std::regex("Received message from client: .*")}, {std::regex("Replied to client: .*")}};
    if (mode == "fork") return {{std::regex("Received message '.*' at [^ ]*")}, {std::regex("Sent to client: .*")}};
    if (mode == "pool")
        return {{std::regex("worker \\d+: Received message .*")}, {std::regex("worker \\d+: Sent to client: .*")}};
    return {{std::regex("Received message '.*' at .*: a new conversation"), std::regex("\\d+: Received message '.*'")},
            {std::regex("\\d+: Sent to client: .*"), std::regex("\\d+: .* said bye: .*")}};
}

// The real client with --processes loads the server; the signal comes mid-load. The server exits 0 with one
// summary naming the signal, every datagram it received was answered, and no process of its group is left.
TEST_P(FaultsUdpSignals, StopDuringLoadAnswersEveryDatagramReceived) {
    const UdpSignalCase& c = GetParam();
    Process server({kUdpServer, "0", "--mode", c.mode});
    const uint16_t port = server.wait_for_listening();
    Process clients({kUdpClient, "localhost", std::to_string(port), "--processes", "8", "--count", "1000", "--timeout",
                     "0.3", "--retries", "1"});
    const auto [received, answered] = received_and_answered(c.mode);
    EXPECT_GE(wait_count(server, received.back(), 50), 50u) << "the load has begun";
    if (c.group)
        server.signal_group(c.signo);
    else
        server.signal(c.signo);
    ASSERT_EQ(server.wait_exit(scaled(15s)), 0);
    EXPECT_TRUE(group_gone(server.pid())) << "a process of the server's group is still running";
    server.wait_output_closed();
    const std::string summary = "server stopped by " + netutil::signal_name(c.signo) + ": ";
    EXPECT_EQ(server.count_matching(std::regex(summary + ".*")), 1u);
    EXPECT_EQ(server.out_lines().back().rfind(summary, 0), 0u) << server.out_lines().back();
    size_t in = 0, out = 0;
    for (const auto& pattern : received) in += server.count_matching(pattern);
    for (const auto& pattern : answered) out += server.count_matching(pattern);
    EXPECT_EQ(in, out) << "every datagram received is answered";
    EXPECT_TRUE(clients.wait_exit(scaled(30s)).has_value()) << "the clients give up after their retries";
}

INSTANTIATE_TEST_SUITE_P(Lab03, FaultsUdpSignals, testing::ValuesIn([] {
                             std::vector<UdpSignalCase> cases;
                             for (const char* mode : {"iterative", "fork", "pool", "conversation"}) {
                                 cases.push_back({mode, SIGINT, true});    // Ctrl-C at the terminal
                                 cases.push_back({mode, SIGTERM, false});  // kill PID
                                 cases.push_back({mode, SIGHUP, true});    // the terminal closed
                             }
                             return cases;
                         }()),
                         [](const auto& info) { return info.param.mode + signal_label(info.param.signo); });

// ================================================================================= 09 and 10: the manager

// What differs between the two manager/worker labs, for tests that run against both.
struct Lab {
    std::string name;
    std::string dir;
    std::string hello;
    std::vector<std::string> run;                 // a small, quick run
    std::string result;                           // the line with the run's figure
    std::string stalled;                          // why a stalled worker is lost
    std::function<bool(Connection&)> work;        // a correct worker on a connection, until BYE
    std::function<void(Connection&)> half_reply;  // reads its first work and sends half the answer
};
void PrintTo(const Lab& lab, std::ostream* out) { *out << lab.name; }

// The Mandelbrot worker written again here from mandelbrot.hpp: CANVAS, then COLUMN K -> PIXELS K I + bytes.
bool mandelbrot_work(Connection& c) {
    const auto canvas_line = c.read_line(scaled(10s));
    const auto canvas = canvas_line ? mandelbrot::parse_canvas_line(*canvas_line) : std::nullopt;
    if (!canvas) return false;
    std::vector<uint8_t> gray(static_cast<size_t>(canvas->height));
    for (;;) {
        const auto line = c.read_line(scaled(10s));
        if (!line) return false;
        if (*line == "BYE") return true;
        const auto column = mandelbrot::parse_column_line(*line, canvas->width);
        if (!column) return false;
        const uint64_t iterations = mandelbrot::compute_column(*canvas, *column, gray.data());
        c.send(mandelbrot::pixels_line({*column, iterations}) + "\n" + std::string(gray.begin(), gray.end()));
    }
}
void mandelbrot_half_reply(Connection& c) {
    ASSERT_TRUE(c.read_line(scaled(10s)));  // CANVAS
    const auto line = c.read_line(scaled(10s));
    ASSERT_TRUE(line && line->rfind("COLUMN ", 0) == 0) << line.value_or("nothing");
    c.send("PIXELS " + line->substr(7) + " 0\n\xff\xff\xff");
}

bool pi_work(Connection& c) {
    for (;;) {
        const auto line = c.read_line(scaled(10s));
        if (!line) return false;
        if (*line == "BYE") return true;
        const auto job = montecarlo::parse_job_line(*line);
        if (!job) return false;
        c.send(montecarlo::result_line({job->number, job->samples, montecarlo::count_inside(job->samples, job->seed)}) +
               "\n");
    }
}
void pi_half_reply(Connection& c) {
    const auto line = c.read_line(scaled(10s));
    ASSERT_TRUE(line && line->rfind("JOB ", 0) == 0) << line.value_or("nothing");
    c.send("RESULT " + line->substr(4, line->find(' ', 4) - 4) + " 10");
}

const Lab kMandelbrot{"Mandelbrot",
                      "09_mandelbrot",
                      "HELLO mandelbrot 1",
                      {"--width", "16", "--height", "8"},
                      "total iterations \\d+.*",
                      "no reply for column \\d+ within 1 s",
                      mandelbrot_work,
                      mandelbrot_half_reply};
const Lab kPi{"Pi",
              "10_pi_montecarlo",
              "HELLO pi 1",
              {"--jobs", "4", "--samples", "2000", "--seed", "5"},
              "estimate of pi .*",
              "no result for job \\d+ in time",
              pi_work,
              pi_half_reply};

class FaultsManager : public testing::TestWithParam<Lab> {
protected:
    void SetUp() override {
        char name[] = "/tmp/labkit-faults-XXXXXX";
        ASSERT_NE(::mkdtemp(name), nullptr);
        dir_ = name;
    }
    void TearDown() override {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    const Lab& lab() const { return GetParam(); }
    std::string server_path() const { return program(lab().dir, "server"); }
    // The manager of a small run for `nworkers`; the picture (09) goes to the test's own directory.
    std::vector<std::string> manager(int nworkers, const std::vector<std::string>& more = {}) const {
        auto argv = with({server_path(), "0", std::to_string(nworkers)}, lab().run);
        if (lab().dir == "09_mandelbrot") argv = with(argv, {"-o", dir_ + "/picture.pgm"});
        return with(argv, more);
    }
    std::vector<std::string> worker(uint16_t port, const std::vector<std::string>& more = {}) const {
        return worker_helpers::worker_argv(program(lab().dir, "client"), port, more);
    }
    // The figure of the run computed with --local: what every faulty run must still print.
    std::string reference() const {
        auto argv = with({server_path(), "--local"}, lab().run);
        if (lab().dir == "09_mandelbrot") argv = with(argv, {"-o", dir_ + "/local.pgm"});
        const Result local = run(argv, "", scaled(30s));
        EXPECT_EQ(local.status, 0) << local.err;
        for (const auto& line : lines(local.out))
            if (std::regex_match(line, std::regex(lab().result))) return figure(line);
        return "missing";
    }
    // "total iterations 123 (...)" -> "total iterations 123"; the estimate line is kept whole.
    static std::string figure(const std::string& line) {
        std::smatch m;
        if (std::regex_search(line, m, std::regex("^total iterations \\d+"))) return m[0];
        return line;
    }
    std::string result_of(Process& server) const {
        const auto line = server.wait_for_match(std::regex(lab().result));
        return line ? figure(*line) : "missing";
    }

    std::string dir_;
};

INSTANTIATE_TEST_SUITE_P(Lab09, FaultsManager, testing::Values(kMandelbrot),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Lab10, FaultsManager, testing::Values(kPi), [](const auto& info) { return info.param.name; });

// A worker that says HELLO, takes work, then neither answers nor reads: after --reply-timeout it is lost,
// its work goes to the others, and the run ends with the right figure.
TEST_P(FaultsManager, StalledWorkerTimesOutAndItsWorkIsRedone) {
    const std::string expected = reference();
    Process server(manager(2, {"--reply-timeout", "1"}));
    const uint16_t port = server.wait_for_listening();
    const faults::Footprint idle = faults::footprint(server);
    auto stalled = faults::never_reads(port, lab().hello + "\n");
    ASSERT_TRUE(server.wait_for_text("worker 0 connected from"));
    Process honest(worker(port, {"--delay-ms", "100"}));
    ASSERT_TRUE(server.wait_for_match(std::regex("worker 0 lost \\(" + lab().stalled + "\\).*"), scaled(10s)));
    // The stalled worker's connection and thread are gone: what is left is the honest worker's.
    faults::expect_nothing_left(server, {idle.fds + 1, idle.threads + 1, 0});
    EXPECT_TRUE(stalled->wait_closed(scaled(5s)));
    EXPECT_EQ(honest.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(result_of(server), expected);
}

// A worker that vanishes with a reset in the middle of its answer: lost, its work redone.
TEST_P(FaultsManager, WorkerResetMidMessageIsRedone) {
    const std::string expected = reference();
    Process server(manager(2));
    const uint16_t port = server.wait_for_listening();
    const faults::Footprint idle = faults::footprint(server);
    Connection fake(port);
    fake.send(lab().hello + "\n");
    ASSERT_TRUE(server.wait_for_text("worker 0 connected from"));
    Process honest(worker(port, {"--delay-ms", "100"}));
    lab().half_reply(fake);
    faults::reset(fake);
    ASSERT_TRUE(server.wait_for_match(std::regex("worker 0 lost \\(.*\\).*"), scaled(10s)));
    faults::expect_nothing_left(server, {idle.fds + 1, idle.threads + 1, 0});
    EXPECT_EQ(honest.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(result_of(server), expected);
}

// HELLO sent a byte at a time is still HELLO: the worker is accepted, and (a correct worker written in the
// test from the lab's header) does the whole run alone.
TEST_P(FaultsManager, HelloAByteAtATimeIsAccepted) {
    const std::string expected = reference();
    Process server(manager(1));
    const uint16_t port = server.wait_for_listening();
    auto slow = faults::trickle(port, lab().hello + "\n");
    ASSERT_TRUE(server.wait_for_text("worker 0 connected from"));
    EXPECT_TRUE(lab().work(*slow)) << "the manager said BYE";
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(result_of(server), expected);
}

// A worker that half-closes right after HELLO can never answer: before the start it leaves, its place is
// free, and two real workers then do the run.
TEST_P(FaultsManager, HalfCloseAfterHelloLeavesBeforeTheStart) {
    const std::string expected = reference();
    Process server(manager(2));
    const uint16_t port = server.wait_for_listening();
    const faults::Footprint idle = faults::footprint(server);
    {
        Connection quitter(port);
        quitter.send(lab().hello + "\n");
        quitter.shutdown_write();
        ASSERT_TRUE(server.wait_for_line("worker 0 left before the start: waiting for 2 more"));
        EXPECT_TRUE(quitter.wait_closed(scaled(5s)));
    }
    faults::expect_nothing_left(server, idle);
    Process a(worker(port)), b(worker(port));
    EXPECT_EQ(a.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(b.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(result_of(server), expected);
}

// Slowloris while workers join: 70 silent connections. At most 64 are held at once (the manager says so
// once; the rest wait in the backlog), each is turned away after --hello-timeout, and the real workers,
// queued behind them, still join and finish the run.
TEST_P(FaultsManager, SlowlorisIsTurnedAwayAndWorkersStillJoin) {
    // Long enough for the manager to start 64 handler threads before the first one times out (slow under TSan).
    const std::string hello_seconds = std::to_string(std::max<long>(1, scaled(1s).count() / 1000));
    Process server(manager(2, {"--hello-timeout", hello_seconds}));
    const uint16_t port = server.wait_for_listening();
    const faults::Footprint idle = faults::footprint(server);
    auto silent = faults::slowloris(port, 70);
    ASSERT_TRUE(
        server.wait_for_line("64 connections are still saying hello: new connections wait in the backlog "
                             "until one of them is done"));
    if (exact_thread_counts()) {
        EXPECT_LE(server.thread_count(), idle.threads + 64);
    }
    Process first(worker(port));
    EXPECT_EQ(wait_count(server, std::regex("turned away .*: said nothing for " + hello_seconds + " s"), 70, 20s), 70u);
    ASSERT_TRUE(server.wait_for_text("worker 0 connected from"));
    for (auto& connection : silent) EXPECT_TRUE(connection->wait_closed(scaled(5s)));
    faults::expect_nothing_left(server, {idle.fds + 1, idle.threads + 1, 0});
    Process second(worker(port));
    EXPECT_EQ(first.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(second.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.count_matching(std::regex("64 connections are still saying hello.*")), 1u);
    EXPECT_EQ(server.count_matching(std::regex("worker \\d+ connected from .*")), 2u);
}

// The manager with one descriptor to spare: a silent connection takes it, the worker behind it cannot be
// accepted (EMFILE). The manager says so once, waits without spinning, and takes the worker as soon as the
// silent connection is turned away.
TEST_P(FaultsManager, OutOfDescriptorsWaitsWithoutSpinning) {
    if (descriptors_are_tight_for_the_sanitizer()) GTEST_SKIP() << "UBSan needs spare descriptors (see above)";
    const std::string expected = reference();
    int base = 0;
    {
        Process probe(manager(1));
        probe.wait_for_listening();
        base = lowest_free_fd(probe.pid());  // all it keeps is open before the listening line
    }
    Process server(manager(1, {"--hello-timeout", "1"}),
                   {.rlimits = {{RLIMIT_NOFILE, static_cast<unsigned long>(base + 1)}}});
    const uint16_t port = server.wait_for_listening();
    const int held = server.open_fd_count();
    Connection silent(port);
    ASSERT_TRUE(wait_fd_count(server, held + 1)) << "the silent connection takes the last descriptor";
    Process late(worker(port));
    ASSERT_TRUE(
        server.wait_for_match(std::regex("out of descriptors \\(accept: Too many open files\\): new "
                                         "connections wait in the backlog until one closes")));
    const double cpu_before = cpu_seconds(server.pid());
    ASSERT_TRUE(server.wait_for_match(std::regex("turned away .*: said nothing for 1 s"), scaled(10s)));
    EXPECT_LT(cpu_seconds(server.pid()) - cpu_before, kLowCpuSeconds) << "waiting for a descriptor must not spin";
    EXPECT_EQ(late.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.count_matching(std::regex("out of descriptors .*")), 1u) << "said once";
    EXPECT_EQ(result_of(server), expected);
}

// SIGTERM (kill) and SIGHUP (the terminal closed) mid-run do what Ctrl-C does: the run is abandoned, the
// manager exits 0 with one line naming the signal, the workers see the connection close and exit 0.
TEST_P(FaultsManager, SigtermAndSighupStopTheRunCleanly) {
    for (const int signo : {SIGTERM, SIGHUP}) {
        SCOPED_TRACE(signal_label(signo));
        worker_helpers::expect_stopped_mid_run(
            manager(2), program(lab().dir, "client"), "500", std::regex("(computed column|working on job) \\d+"), signo,
            signo == SIGHUP, std::regex("manager stopped by " + netutil::signal_name(signo) + ": .* were done, .*"));
    }
}

// Started under nohup (SIGHUP ignored), the manager keeps SIGHUP ignored: a SIGHUP to its group changes
// nothing, the run completes with the right figure once its worker comes.
TEST_P(FaultsManager, UnderNohupSighupIsIgnored) {
    const std::string expected = reference();
    auto argv = manager(1);
    argv.insert(argv.begin(), "/usr/bin/nohup");
    Process server(argv, {.name = "nohup manager"});
    const uint16_t port = server.wait_for_listening();
    server.signal_group(SIGHUP);
    Process only(worker(port));
    EXPECT_EQ(only.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(result_of(server), expected);
    EXPECT_EQ(server.out().find("stopped by SIGHUP"), std::string::npos) << server.out();
}

// A SIGPIPE mid-run (kill -PIPE, or a write to a vanished worker) does not end the manager: the run completes.
TEST_P(FaultsManager, SigpipeIsHarmless) {
    const std::string expected = reference();
    Process server(manager(1));
    const uint16_t port = server.wait_for_listening();
    Process only(worker(port, {"--delay-ms", "100", "--verbose"}));
    ASSERT_TRUE(only.wait_for_match(std::regex("(computed column|working on job) \\d+"), scaled(10s)));
    server.signal_group(SIGPIPE);
    EXPECT_EQ(only.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(result_of(server), expected);
}

}  // namespace
