// Tests of 08_webclient, fault injection against the HTTP/1.1 file server: misbehaving clients, descriptor
// exhaustion, signals, a killed pool member, and the bounded resources.
// Slides: the lab handout "Concurrent HTTP server" (Ctrl-C lets connected clients finish, every thread
// joined); the lecture "Network Programming", slides "Preforked Server Models" and "Event Driven Architectures".
// Suites: Lab08/FaultsHttp.*/MODE and Lab08/FaultsHttpSignals.*/MODE_SIGNAL over every concurrency mode,
// Lab08/FaultsHttpMaxClients.*/MODE (thread, process), Lab08FaultsHttpPool, Lab08FaultsHttpLimits. Every test
// runs the real ./server (and, for the signals under load, the real ./client), and each checks afterwards
// that the server holds no more descriptors, threads or children than before (faults::expect_nothing_left).
//
// The suite's map: fault -> where it is tested (suites named without their Lab08 prefix).
//   reset in the middle of a large response ... FaultsHttp.ResetMidResponseCostsOnlyThatClient (here, with a
//                                               download under way beside it; test_08's
//                                               ClientVanishingMidBodyCostsOnlyItsConnection resets alone)
//   half-close after the request ............... FaultsHttp.HalfClosedClientGetsEveryResponseWhole
//   a request a byte at a time ................. FaultsHttp.ByteAtATimeRequestIsAnsweredWhenComplete
//   a client that never reads a large reply .... FaultsHttp.NeverReadingClientIsDroppedAndOthersAreServed
//   descriptor exhaustion (RLIMIT_NOFILE 32) ... FaultsHttp.OutOfDescriptorsNoSpinAndEveryoneServedLater (every
//                                               mode, CPU time checked; test_08's
//                                               OutOfDescriptorsAnswers503AndServesOn: thread, async, uring)
//   slowloris, more clients than the pool ...... FaultsHttp.SlowlorisIsTimedOutAndOthersAreServed (test_08's
//                                               SlowClientsTimeOutAndCannotStarveAPool: two, trickling)
//   SIGINT / SIGTERM under the client's load ... FaultsHttpSignals.StopDuringLoadAnswersEveryAcceptedRequest
//   SIGPIPE sent to the server ................. FaultsHttp.SigpipeIsHarmless
//   SIGHUP (the terminal closed) ............... FaultsHttp.SighupStopsGracefullyLikeSigterm
//   SIGHUP under nohup (ignored at start) ...... FaultsHttp.UnderNohupSighupIsIgnored
//   a process-pool worker killed (kill -9) ..... Lab08FaultsHttpPool.KilledWorkerIsReplacedAndThePoolServesOn
//   Ctrl-C during a transfer, idle keep-alive .. test_08: CtrlCLetsEveryResponseInProgressComplete,
//                                               CtrlCClosesIdleKeepAliveConnectionsAtOnce
// Bounded resources:
//   request line 8 KiB (414), headers 16 KiB (431), body 64 KiB (413) ... test_08's
//                                               MalformedAndOverLongRequestsGetTheirStatus; documented:
//                                               Lab08FaultsHttpLimits.HelpDocumentsEveryLimit
//   --max-clients (thread, process) ........... FaultsHttpMaxClients.MaxClientsCapsConnectionsServedAtOnce
//   the thread pool's queue ..................... Lab08FaultsHttpLimits.ThreadPoolQueueIsBounded
#include "tests/faults.hpp"
#include "tests/harness.hpp"
#include "tests/http_helpers.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace harness;
using http_helpers::get;
using http_helpers::read_reply;
using http_helpers::Reply;
using http_helpers::uring_refused;
using http_helpers::uses_uring;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kServer = program("08_webclient", "server");
const std::string kClient = program("08_webclient", "client");
constexpr size_t kBigSize = 16u << 20;  // larger than every socket buffer between the server and a client
// The file the tests read whole: big.bin in the release build, 2 MiB in the sanitizer builds, where a test
// program reading 16 MiB takes tens of seconds (the behaviour checked stays the same).
const size_t kLargeSize = sanitized() ? 2u << 20 : kBigSize;

// The served folder, made once for the whole program.
struct Site : http_helpers::SiteFolder {
    std::string page, big;

    Site() : SiteFolder("labkit-faults-http") {
        fs::create_directories(base / "img");
        write(base / "index.html", "<html><body>home</body></html>\n");
        page.resize(4096);
        for (size_t i = 0; i < page.size(); ++i) page[i] = static_cast<char>('a' + i * 7 % 26);
        write(base / "page.html", page);
        big.resize(kBigSize);
        for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 2654435761u >> 13);
        write(base / "big.bin", big);
        write(base / "large.bin", big.substr(0, kLargeSize));
        for (int i = 1; i <= 9; ++i) write(base / "img" / image(i), image_content(i));
    }
    static std::string image(int i) { return "image" + std::to_string(i) + ".gif"; }
    static std::string image_content(int i) { return std::string(1000 + i, char('0' + i)); }
};

Site& site() {
    static Site instance;
    return instance;
}

// Parses a whole response held in `raw` (head and body); status 0 if it is not one.
Reply parse_reply(const std::string& raw, size_t* consumed = nullptr) {
    Reply reply;
    const size_t head_end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return reply;
    reply.status = std::stoi(raw.substr(9, 3));
    const std::regex length("\r\nContent-Length: (\\d+)\r\n", std::regex::icase);
    std::smatch match;
    const std::string head = raw.substr(0, head_end + 2);
    const size_t size = std::regex_search(head, match, length) ? std::stoull(match[1]) : 0;
    reply.body = raw.substr(head_end + 4, size);
    if (consumed != nullptr) *consumed = head_end + 4 + reply.body.size();
    return reply;
}

// A fresh connection, one GET, the reply; waits until the server has closed the connection too.
Reply fetch(uint16_t port, const std::string& target, Duration timeout = 10s) {
    Connection c(port);
    c.send(get(target, "Connection: close\r\n"));
    Reply reply = read_reply(c, false, timeout);
    EXPECT_TRUE(c.wait_closed(timeout)) << target;
    return reply;
}

struct Mode {
    std::string name;
    std::vector<std::string> args;
    bool concurrent = true;  // iterative serves one client at a time
};

void PrintTo(const Mode& mode, std::ostream* out) { *out << mode.name; }

std::string mode_name(const std::string& mode) {
    std::string name = mode;
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
}

const std::vector<Mode> kModes = {
    {"iterative", {"-c", "iterative"}, false},
    {"thread", {"-c", "thread"}},
    {"thread-pool", {"-c", "thread-pool"}},
    {"process", {"-c", "process"}},
    {"process-pool", {"-c", "process-pool"}},
    {"async", {"-c", "async"}},
    {"async-2-loops", {"-c", "async", "--workers", "2"}},
    {"uring", {"-c", "uring"}},
    {"uring-2-loops", {"-c", "uring", "--workers", "2"}},
};

// Starts a server, waits until it is idle with every pool member started, and remembers its footprint.
class Server {
public:
    // `nohup`: started as `nohup ./server ...`, with SIGHUP ignored.
    Server(const Mode& mode, std::vector<std::string> extra, Options options = {}, bool nohup = false) {
        std::vector<std::string> argv{kServer, "-p", "0", "-f", site().base.string()};
        argv.insert(argv.end(), mode.args.begin(), mode.args.end());
        argv.insert(argv.end(), extra.begin(), extra.end());
        // What the server runs once idle: main (and its pool threads or event loops), its pool processes.
        const auto value = [&](const std::string& option, int fallback) {
            int result = fallback;
            for (size_t i = 0; i + 1 < argv.size(); ++i)
                if (argv[i] == option) result = std::stoi(argv[i + 1]);
            return result;
        };
        const std::string concurrency = mode.args.at(1);
        if (concurrency == "thread-pool") idle_threads_ = 1 + value("--threads", 8);
        if (concurrency == "async" || concurrency == "uring") idle_threads_ = value("--workers", 1);
        if (concurrency == "process-pool") idle_children_ = static_cast<size_t>(value("--processes", 4));
        options.name = "server " + mode.name;
        if (nohup) argv.insert(argv.begin(), "/usr/bin/nohup");
        // Otherwise SIGHUP's default action: this test program may itself run under nohup, and an ignored
        // signal stays ignored across fork and exec (which the server honours).
        struct sigaction hangup {
        }, saved{};
        hangup.sa_handler = SIG_DFL;
        ::sigaction(SIGHUP, &hangup, &saved);
        process = std::make_unique<Process>(argv, options);
        ::sigaction(SIGHUP, &saved, nullptr);
        port = process->wait_for_listening();
    }

    // One request served, then every pool member running and nothing else: the footprint to come back to.
    void settle() {
        EXPECT_EQ(fetch(port, "/index.html").status, 200);
        const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
        for (;;) {
            const faults::Footprint now = faults::footprint(*process);
            const bool threads_ok = !exact_thread_counts() || now.threads == idle_threads_;
            if (threads_ok && now.children == idle_children_ && process->zombie_children().empty()) break;
            if (std::chrono::steady_clock::now() >= deadline) {
                ADD_FAILURE() << "the server did not settle: " << now.threads << " threads, " << now.children
                              << " children";
                break;
            }
            std::this_thread::sleep_for(20ms);  // polling /proc: there is no event to wait on
        }
        before = faults::footprint(*process);
    }

    void expect_nothing_left() { faults::expect_nothing_left(*process, before); }

    // Ctrl-C as a terminal sends it (to the whole group): exit 0, nothing left behind.
    void interrupt_and_expect_clean_exit() {
        process->signal_group(SIGINT);
        EXPECT_EQ(process->wait_exit(15s), 0);
        EXPECT_TRUE(process->wait_for_text("server stopped by SIGINT, every thread joined and every child reaped"));
        EXPECT_TRUE(group_gone(process->pid()));
    }

    std::unique_ptr<Process> process;
    uint16_t port = 0;
    faults::Footprint before;

private:
    int idle_threads_ = 1;
    size_t idle_children_ = 0;
};

class FaultsHttp : public testing::TestWithParam<Mode> {
protected:
    void SetUp() override {
        if (uses_uring(GetParam().args) && !uring_refused().empty()) GTEST_SKIP() << uring_refused();
    }
};

INSTANTIATE_TEST_SUITE_P(Lab08, FaultsHttp, testing::ValuesIn(kModes),
                         [](const testing::TestParamInfo<Mode>& info) { return mode_name(info.param.name); });

}  // namespace

// Clients reset their connections in the middle of a 16 MiB body, while (in the concurrent modes) another
// downloads a large file: the reset costs only its own connection, the download arrives whole.
TEST_P(FaultsHttp, ResetMidResponseCostsOnlyThatClient) {
    Server server(GetParam(), {});
    server.settle();
    std::unique_ptr<Connection> downloading;
    std::string received;
    if (GetParam().concurrent) {
        downloading = std::make_unique<Connection>(server.port);
        downloading->send(get("/large.bin", "Connection: close\r\n"));
        received = downloading->read_exact(1000);
        ASSERT_EQ(received.size(), 1000u) << "the download has begun";
    }
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(faults::reset_mid_reply(server.port, get("/big.bin"), 200000).size(), 200000u);
    if (downloading) {
        received += downloading->read_all(60s);
        const Reply reply = parse_reply(received);
        EXPECT_EQ(reply.status, 200);
        EXPECT_EQ(reply.body.size(), kLargeSize) << "the whole body arrives";
        EXPECT_TRUE(reply.body == site().big.substr(0, kLargeSize)) << "the body differs from the file";
    }
    EXPECT_EQ(fetch(server.port, "/page.html").body, site().page);
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

// A client that half-closes (shutdown SHUT_WR) right after its requests still gets every response whole:
// the server answers everything sent before the FIN, then closes.
TEST_P(FaultsHttp, HalfClosedClientGetsEveryResponseWhole) {
    Server server(GetParam(), {});
    server.settle();
    const std::string raw = faults::half_close(server.port, get("/page.html") + get("/large.bin"), 60s);
    size_t first = 0;
    const Reply page = parse_reply(raw, &first);
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.body, site().page);
    const Reply big = parse_reply(raw.substr(first));
    EXPECT_EQ(big.status, 200);
    EXPECT_EQ(big.body.size(), kLargeSize);
    EXPECT_TRUE(big.body == site().big.substr(0, kLargeSize)) << "the body differs from the file";
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

// A request sent a byte at a time is answered once it is complete (and not before), within the idle
// timeout; the connection stays usable for the next request.
TEST_P(FaultsHttp, ByteAtATimeRequestIsAnsweredWhenComplete) {
    Server server(GetParam(), {"--idle-timeout", "5"});
    server.settle();
    const std::string request = get("/page.html");
    auto c = faults::trickle(server.port, request.substr(0, request.size() - 1));
    char byte;
    EXPECT_EQ(::recv(c->fd(), &byte, 1, MSG_DONTWAIT), -1) << "an answer before the request was complete";
    c->send(request.substr(request.size() - 1));
    const Reply reply = read_reply(*c);
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, site().page);
    c->send(get("/index.html", "Connection: close\r\n"));
    EXPECT_EQ(read_reply(*c).status, 200);
    EXPECT_TRUE(c->wait_closed());
    c.reset();
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

// A client asks for 16 MiB and never reads: the server's sends stop. Where the mode serves more than one
// client at a time, others are served meanwhile; the idle timeout (no progress for 2 s) drops the reader,
// and the iterative server then serves the one waiting.
TEST_P(FaultsHttp, NeverReadingClientIsDroppedAndOthersAreServed) {
    // 2 s, longer in the slower sanitizer builds: the other client must be served before it passes.
    const auto idle = std::chrono::duration_cast<std::chrono::seconds>(scaled(2s)).count();
    Server server(GetParam(), {"-v", "--idle-timeout", std::to_string(idle)});
    server.settle();
    auto stuck = faults::never_reads(server.port, get("/big.bin"));
    ASSERT_TRUE(server.process->wait_for_text("GET /big.bin -> 200"));
    const Reply other = fetch(server.port, "/page.html", 20s);
    EXPECT_EQ(other.status, 200);
    EXPECT_EQ(other.body, site().page);
    if (GetParam().concurrent) {
        EXPECT_EQ(server.process->out().find("dropped: the client stopped reading"), std::string::npos)
            << "another client was served while the reader was still held";
    }
    EXPECT_TRUE(server.process->wait_for_text("dropped: the client stopped reading", 10s));
    stuck.reset();
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

// Out of descriptors: RLIMIT_NOFILE 32 and 40 clients keeping their connections open. Each client gets 200
// or 503 (thread and async, which hold every connection in one process, run out), or waits its turn
// (pools, iterative, processes); meanwhile the server does not spin (its CPU time stays low). Once the
// clients leave, everyone is served, the refused ones included.
TEST_P(FaultsHttp, OutOfDescriptorsNoSpinAndEveryoneServedLater) {
    // Release build only: the sanitizers' runtimes need descriptors of their own (to start a thread, to
    // symbolize), so with none left they report errors of their own making.
    if (sanitized()) GTEST_SKIP() << "needs the release build";
    Server server(GetParam(), {}, {.rlimits = {{RLIMIT_NOFILE, 32}}});
    server.settle();
    const int clients = 40;
    std::vector<std::unique_ptr<Connection>> held;
    for (int i = 0; i < clients; ++i) {
        held.push_back(std::make_unique<Connection>(server.port));
        held.back()->send(get("/index.html"));  // keep-alive: the connection stays open
    }
    ASSERT_TRUE(server.process->running());
    const double cpu_before = server.process->cpu_seconds();  // the server and its children
    std::this_thread::sleep_for(1s);  // the window in which a spinning server would burn a second of CPU
    const double cpu_used = server.process->cpu_seconds() - cpu_before;
    EXPECT_LT(cpu_used, 0.25) << "the server spins while out of descriptors";

    // In order: read the answer, then leave, which frees a descriptor (or a pool member) for the next.
    int ok = 0;
    std::vector<int> refused;
    for (int i = 0; i < clients; ++i) {
        const Reply reply = read_reply(*held[i], false, 20s);
        if (reply.status == 200)
            ++ok;
        else if (reply.status == 503)
            refused.push_back(i);
        else
            ADD_FAILURE() << "client " << i << " got " << reply.status;
        held[i].reset();
    }
    // (ok may be 0: an event loop accepts every waiting client before reading any request, and then has no
    // descriptor left to open the file for any of them.) Where each process holds one connection at a
    // time, nobody runs out: everyone waits for a turn instead.
    const std::string& concurrency = GetParam().args.at(1);
    if (concurrency == "iterative" || concurrency == "process" || concurrency == "process-pool") {
        EXPECT_EQ(ok, clients);
    }
    for (const int i : refused) EXPECT_EQ(fetch(server.port, "/index.html").status, 200) << "client " << i << " again";
    EXPECT_TRUE(server.process->running());
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

// Slowloris with more connections than the server serves at once (pools of 3, --max-clients 3 for thread
// and process; one at a time in the iterative server): half requests and silent connections. Each gets 408
// when the idle timeout passes, so a normal client is served.
TEST_P(FaultsHttp, SlowlorisIsTimedOutAndOthersAreServed) {
    Server server(GetParam(), {"--threads", "3", "--processes", "3", "--max-clients", "3", "--idle-timeout", "1"});
    server.settle();
    const size_t half = GetParam().concurrent ? 4 : 1, silent = GetParam().concurrent ? 2 : 1;
    auto held = faults::slowloris(server.port, half, "GET /page.html HTTP/1.1\r\nHost: x\r\n");
    auto quiet = faults::slowloris(server.port, silent);
    const Reply normal = fetch(server.port, "/page.html", 20s);
    EXPECT_EQ(normal.status, 200);
    EXPECT_EQ(normal.body, site().page);
    for (auto& c : held) {
        EXPECT_EQ(read_reply(*c, false, 20s).status, 408);
        EXPECT_TRUE(c->wait_closed());
    }
    for (auto& c : quiet) {
        EXPECT_EQ(read_reply(*c, false, 20s).status, 408);
        EXPECT_TRUE(c->wait_closed());
    }
    held.clear();
    quiet.clear();
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

// SIGPIPE is ignored: sent to the server and its children, it changes nothing.
TEST_P(FaultsHttp, SigpipeIsHarmless) {
    Server server(GetParam(), {});
    server.settle();
    server.process->signal(SIGPIPE);
    server.process->signal_group(SIGPIPE);
    EXPECT_EQ(fetch(server.port, "/page.html").body, site().page);
    EXPECT_TRUE(server.process->running());
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

// SIGHUP, as when the server's terminal closes (sent to its whole group): the same graceful stop as
// SIGTERM. A request being answered completes, then the server exits 0 with its summary, children reaped.
TEST_P(FaultsHttp, SighupStopsGracefullyLikeSigterm) {
    Server server(GetParam(), {"-v", "-d", "--delay-ms", "300", "--grace", "10"});
    server.settle();
    Connection delayed(server.port);
    delayed.send(get("/page.html", "Connection: close\r\n"));
    ASSERT_TRUE(server.process->wait_for_text("GET /page.html received"));
    server.process->signal_group(SIGHUP);
    EXPECT_EQ(read_reply(delayed).body, site().page) << "the request in progress is answered";
    EXPECT_EQ(server.process->wait_exit(15s), 0);
    EXPECT_TRUE(server.process->wait_for_text("server stopped by SIGHUP, every thread joined and every child reaped"));
    EXPECT_TRUE(server.process->wait_for_text(" requests in all"));
    EXPECT_TRUE(group_gone(server.process->pid()));
}

// Started under nohup (SIGHUP ignored: meant to outlive its terminal), the server leaves SIGHUP ignored, in
// its threads and its children: a SIGHUP to the whole group changes nothing, a connection in progress
// carries on.
TEST_P(FaultsHttp, UnderNohupSighupIsIgnored) {
    Server server(GetParam(), {}, {}, true);
    server.settle();
    Connection kept(server.port);
    kept.send(get("/index.html"));
    EXPECT_EQ(read_reply(kept).status, 200);
    server.process->signal_group(SIGHUP);
    kept.send(get("/page.html", "Connection: close\r\n"));
    EXPECT_EQ(read_reply(kept).body, site().page) << "the connection in progress carries on";
    EXPECT_TRUE(kept.wait_closed());
    EXPECT_EQ(fetch(server.port, "/page.html").body, site().page);
    EXPECT_TRUE(server.process->running());
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

namespace {

class FaultsHttpSignals : public testing::TestWithParam<std::tuple<Mode, int>> {
protected:
    void SetUp() override {
        if (uses_uring(std::get<0>(GetParam()).args) && !uring_refused().empty()) GTEST_SKIP() << uring_refused();
    }
};

INSTANTIATE_TEST_SUITE_P(Lab08, FaultsHttpSignals,
                         testing::Combine(testing::ValuesIn(kModes), testing::Values(SIGINT, SIGTERM)),
                         [](const testing::TestParamInfo<std::tuple<Mode, int>>& info) {
                             return mode_name(std::get<0>(info.param).name) +
                                    (std::get<1>(info.param) == SIGINT ? "_SIGINT" : "_SIGTERM");
                         });

}  // namespace

// SIGINT (Ctrl-C, to the whole group) or SIGTERM (kill, to the server alone) while the real web client is
// fetching: the server exits 0, every request it accepted was answered whole (the client's 200s are the
// server's 200s, no body cut short), and no process is left.
TEST_P(FaultsHttpSignals, StopDuringLoadAnswersEveryAcceptedRequest) {
    const auto& [mode, signo] = GetParam();
    Server server(mode, {"-v", "-d", "--delay-ms", "100", "--grace", "10"});
    std::vector<std::string> argv{
        kClient, "3", "localhost", "index.html", "page.html", "-p", std::to_string(server.port)};
    for (int round = 0; round < 2; ++round)
        for (int i = 1; i <= 9; ++i) argv.push_back("img/" + Site::image(i));
    Process client(argv, {.name = "client"});
    const std::regex received(".*GET /\\S+ received, answering in 100 ms");
    const auto deadline = std::chrono::steady_clock::now() + scaled(20s);
    while (server.process->count_matching(received) < 4 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);  // polling the output for a count; wait_for_match finds one line
    ASSERT_GE(server.process->count_matching(received), 4u) << "the load has begun";
    if (signo == SIGINT)
        server.process->signal_group(SIGINT);
    else
        server.process->signal(SIGTERM);
    EXPECT_EQ(server.process->wait_exit(20s), 0);
    const std::string stopped = std::string("server stopped by ") + (signo == SIGINT ? "SIGINT" : "SIGTERM");
    EXPECT_TRUE(server.process->wait_for_text(stopped + ", every thread joined and every child reaped"));
    EXPECT_TRUE(group_gone(server.process->pid()));

    const auto client_status = client.wait_exit(60s);
    ASSERT_TRUE(client_status.has_value());
    const size_t served = server.process->count_matching(std::regex(".*GET /\\S+ -> 200 \\(\\d+ bytes\\)"));
    const size_t fetched = client.count_matching(std::regex(".* done: \\d+ bytes, status 200 OK")) +
                           client.count_matching(std::regex("home page index\\.html: \\d+ bytes, status 200 OK"));
    EXPECT_GE(served, 2u);
    EXPECT_EQ(fetched, served) << "every request the server answered reached the client whole";
    EXPECT_EQ(client.err().find("connection closed after"), std::string::npos) << "a body was cut short";
    EXPECT_EQ(client.err().find("inside the response head"), std::string::npos) << "a head was cut short";
    EXPECT_EQ(*client_status, fetched == 20 ? 0 : 1) << "exit 1 when a file was not fetched";
}

// A process-pool worker killed with SIGKILL, once while it serves a connection and once while idle: the
// parent reaps it and starts another in its place; the pool serves on with its full size.
TEST(Lab08FaultsHttpPool, KilledWorkerIsReplacedAndThePoolServesOn) {
    const Mode mode{"process-pool", {"-c", "process-pool"}};
    Server server(mode, {"-v", "--processes", "2"});
    server.settle();
    Connection busy(server.port);
    busy.send(get("/index.html"));  // keep-alive: its worker stays with it
    ASSERT_EQ(read_reply(busy).status, 200);
    // The worker logs the request after it has answered: wait for the line of this connection (its client
    // port), not the last one logged so far, which may be settle()'s connection on the other worker.
    const std::regex serving(".*\\[conn \\d+ [^,]+:" + std::to_string(busy.local_port()) +
                             ", worker (\\d) \\(pid (\\d+)\\)\\] GET /index.html -> 200.*");
    std::smatch match;
    const std::optional<std::string> logged = server.process->wait_for_match(serving);
    ASSERT_TRUE(logged) << server.process->out();
    const std::string line = *logged;
    ASSERT_TRUE(std::regex_match(line, match, serving)) << line;
    const pid_t busy_pid = std::stoi(match[2]);
    ::kill(busy_pid, SIGKILL);
    EXPECT_TRUE(busy.wait_closed()) << "the killed worker's connection ends";
    ASSERT_TRUE(server.process->wait_for_match(std::regex("server: worker \\d \\(pid " + std::to_string(busy_pid) +
                                                          "\\) killed by SIGKILL, starting a new one")));

    pid_t idle_pid = 0;
    for (const pid_t child : server.process->children())
        if (child != busy_pid) idle_pid = child;
    ASSERT_NE(idle_pid, 0);
    ::kill(idle_pid, SIGKILL);
    ASSERT_TRUE(server.process->wait_for_match(std::regex("server: worker \\d \\(pid " + std::to_string(idle_pid) +
                                                          "\\) killed by SIGKILL, starting a new one")));
    for (int i = 0; i < 6; ++i) EXPECT_EQ(fetch(server.port, "/page.html").body, site().page) << "fetch " << i;
    server.expect_nothing_left();
    EXPECT_EQ(server.process->children().size(), 2u) << "the pool is at full size";
    server.interrupt_and_expect_clean_exit();
}

// --- bounded resources ------------------------------------------------------------------------------------

// Every limit is in --help, with its value.
TEST(Lab08FaultsHttpLimits, HelpDocumentsEveryLimit) {
    const Result help = run({kServer, "--help"});
    EXPECT_EQ(help.status, 0);
    for (const std::string text : {"8 KiB", "414", "16 KiB", "431", "64 KiB", "413", "--max-clients", "256",
                                   "--idle-timeout", "408", "queue", "503"})
        EXPECT_NE(help.out.find(text), std::string::npos) << text;
}

namespace {

class FaultsHttpMaxClients : public testing::TestWithParam<Mode> {};

INSTANTIATE_TEST_SUITE_P(Lab08, FaultsHttpMaxClients,
                         testing::Values(Mode{"thread", {"-c", "thread"}}, Mode{"process", {"-c", "process"}}),
                         [](const testing::TestParamInfo<Mode>& info) { return mode_name(info.param.name); });

}  // namespace

// --max-clients 2 in the thread and process modes: two keep-alive clients are served; a third waits in the
// backlog (no thread or child is started for it, the server says so once) until one of them leaves.
TEST_P(FaultsHttpMaxClients, MaxClientsCapsConnectionsServedAtOnce) {
    Server server(GetParam(), {"--max-clients", "2"});
    server.settle();
    std::vector<std::unique_ptr<Connection>> served;
    for (int i = 0; i < 2; ++i) {
        served.push_back(std::make_unique<Connection>(server.port));
        served.back()->send(get("/index.html"));
        ASSERT_EQ(read_reply(*served.back()).status, 200);
    }
    Connection third(server.port);
    third.send(get("/page.html", "Connection: close\r\n"));
    EXPECT_TRUE(
        server.process->wait_for_line("server: 2 clients connected (--max-clients): new clients wait in the backlog"));
    const faults::Footprint full = faults::footprint(*server.process);
    EXPECT_EQ(full.children, GetParam().name == "process" ? 2u : 0u);
    if (exact_thread_counts() && GetParam().name == "thread") {
        EXPECT_EQ(full.threads, 3);
    }
    served[0].reset();
    EXPECT_EQ(read_reply(third).body, site().page) << "served once a client left";
    served.clear();
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}

// The thread pool's queue holds at most --threads connections: with one thread busy with a keep-alive
// client and more clients arriving, the server holds two connections (one served, one queued); the rest
// wait in the backlog. Each is served in turn as the one before leaves.
TEST(Lab08FaultsHttpLimits, ThreadPoolQueueIsBounded) {
    const Mode mode{"thread-pool", {"-c", "thread-pool"}};
    Server server(mode, {"--threads", "1"});
    server.settle();
    std::vector<std::unique_ptr<Connection>> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(std::make_unique<Connection>(server.port));
        clients.back()->send(get("/index.html"));
    }
    ASSERT_EQ(read_reply(*clients[0]).status, 200);
    // The acceptor queues one more and then waits: the descriptor count settles at two above idle. (It
    // can be three for a moment: the first reply's file is closed just after its last byte is sent.)
    const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
    while (server.process->open_fd_count() != server.before.fds + 2 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);  // polling /proc
    for (int sample = 0; sample < 10; ++sample) {
        EXPECT_LE(server.process->open_fd_count(), server.before.fds + 2) << "the queue grew past its bound";
        std::this_thread::sleep_for(20ms);  // sampling /proc: a growing queue would show here
    }
    for (int i = 1; i < 5; ++i) {
        clients[i - 1].reset();
        EXPECT_EQ(read_reply(*clients[i]).status, 200) << "client " << i;
    }
    clients.clear();
    server.expect_nothing_left();
    server.interrupt_and_expect_clean_exit();
}
