// Tests of 08_webclient: the concurrent HTTP file server and the lecture's web client, run as a user runs
// them.
// Slides: the lab handout "Concurrent HTTP server"; the lecture "Network Programming" (Stevens UNP ch. 26/30,
// Kerrisk TLPI ch. 63), slides "Web client: Using threads" and "Polling for Available Threads".
// Suites: Lab08/WebServer.*/MODE (every concurrency mode), Lab08WebServerCli (the command line),
// Lab08/WebClient.*/MODE (the client's three modes), Lab08WebServerLimits (out of descriptors).
//
// One suite runs over every concurrency mode (iterative, thread, thread-pool, process, process-pool,
// async, async with two event loops, uring, uring with two), so no mode can skip a behaviour:
// GET/HEAD/404/405, traversal attempts, keep-alive, pipelining, a 50 MiB file byte-exact, 100 clients at
// once, ten clients against -d finishing together (one after another for iterative), malformed and
// over-long requests, a client that vanishes mid-body, slowloris clients against a small pool, Ctrl-C
// during transfers.
#include "netutil/fd.hpp"
#include "netutil/io.hpp"
#include "netutil/socket.hpp"
#include "tests/harness.hpp"
#include "tests/http_helpers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>

using namespace harness;
using namespace http_helpers;
namespace fs = std::filesystem;

namespace {

const std::string kServer = program("08_webclient", "server");
const std::string kClient = program("08_webclient", "client");
constexpr size_t kBigSize = 50u << 20;  // 50 MiB

// The served folder, made once for the whole program: www/ inside a temporary directory, with a secret
// beside it that no request may ever reach.
struct Site : SiteFolder {
    fs::path www;
    std::string page, big;

    Site() : SiteFolder("labkit08") {
        www = base / "www";
        fs::create_directories(www / "sub");
        fs::create_directories(www / "img");
        write(base / "secret.txt", "TOP SECRET\n");
        write(www / "index.html", "<html><body>home</body></html>\n");
        write(www / "sub" / "index.html", "<html>sub</html>\n");
        std::mt19937 random(8);
        page.resize(4096);
        for (char& c : page) c = static_cast<char>('a' + random() % 26);
        write(www / "page.html", page);
        big.resize(kBigSize);
        for (size_t i = 0; i < big.size(); i += 4) {
            const uint32_t word = random();
            std::memcpy(&big[i], &word, 4);
        }
        write(www / "big.bin", big);
        for (int i = 1; i <= 9; ++i)
            write(www / "img" / ("image" + std::to_string(i) + ".gif"), std::string(1621 + i, char('0' + i)));
        fs::create_symlink(base / "secret.txt", www / "link_out");
        fs::create_symlink("../secret.txt", www / "relative_link_out");
        fs::create_symlink(base, www / "dir_out");
        fs::create_symlink("page.html", www / "link_in");
        ::mkfifo((www / "fifo").c_str(), 0644);
    }
};

Site& site() {
    static Site instance;
    return instance;
}

struct Mode {
    std::string name;
    std::vector<std::string> args;
    bool concurrent = true;  // iterative serves one client at a time
};

std::string mode_name(const testing::TestParamInfo<Mode>& info) {
    std::string name = info.param.name;
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
}

class WebServer : public testing::TestWithParam<Mode> {
protected:
    void SetUp() override {
        if (http_helpers::uses_uring(GetParam().args) && !http_helpers::uring_refused().empty())
            GTEST_SKIP() << http_helpers::uring_refused();
    }
    // Starts the server in this test's mode, serving the test site, on a free port.
    std::unique_ptr<Process> start(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{kServer, "-p", "0", "-f", site().www.string()};
        argv.insert(argv.end(), GetParam().args.begin(), GetParam().args.end());
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto server = std::make_unique<Process>(argv, Options{.name = "server " + GetParam().name});
        port_ = server->wait_for_listening();
        return server;
    }
    // Ctrl-C as a terminal sends it (to the whole group): the server must exit 0, leaving no child behind.
    static void interrupt_and_expect_clean_exit(Process& server, Duration timeout = 15s) {
        server.signal_group(SIGINT);
        EXPECT_EQ(server.wait_exit(timeout), 0);
        EXPECT_TRUE(server.wait_for_text("server stopped by SIGINT"));
    }
    uint16_t port_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Lab08, WebServer,
                         testing::Values(Mode{"iterative", {"-c", "iterative"}, false},
                                         Mode{"thread", {"-c", "thread"}}, Mode{"thread-pool", {"-c", "thread-pool"}},
                                         Mode{"process", {"-c", "process"}},
                                         Mode{"process-pool", {"-c", "process-pool"}}, Mode{"async", {"-c", "async"}},
                                         Mode{"async-2-loops", {"-c", "async", "--workers", "2"}},
                                         Mode{"uring", {"-c", "uring"}},
                                         Mode{"uring-2-loops", {"-c", "uring", "--workers", "2"}}),
                         mode_name);

}  // namespace

// GET and HEAD of a file; a directory serves its index.html; 404 for what is not there; 405 for a method
// we do not serve, with Allow.
TEST_P(WebServer, GetHeadNotFoundAndMethodNotAllowed) {
    auto server = start();
    const Reply page = fetch(port_, "/page.html");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.body, site().page);
    EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(page.header("content-length"), "4096");
    EXPECT_TRUE(page.headers.count("last-modified"));

    Connection head(port_);
    head.send("HEAD /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const Reply head_reply = read_reply(head, true);
    EXPECT_EQ(head_reply.status, 200);
    EXPECT_EQ(head_reply.header("content-length"), "4096");
    EXPECT_EQ(head.read_all(), "") << "HEAD has no body";

    EXPECT_EQ(fetch(port_, "/").body, "<html><body>home</body></html>\n");
    EXPECT_EQ(fetch(port_, "/sub/").body, "<html>sub</html>\n");
    EXPECT_EQ(fetch(port_, "/sub").body, "<html>sub</html>\n");
    EXPECT_EQ(fetch(port_, "/link_in").body, site().page) << "a symlink that stays inside is served";
    EXPECT_EQ(fetch(port_, "/img/image3.gif").header("content-type"), "image/gif");
    EXPECT_EQ(fetch(port_, "/page.html?query=1#x").status, 200);
    EXPECT_EQ(fetch(port_, "/nope.html").status, 404);
    EXPECT_EQ(fetch(port_, "/page.html/x").status, 404);

    Connection post(port_);
    post.send("POST /page.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    const Reply refused = read_reply(post);
    EXPECT_EQ(refused.status, 405);
    EXPECT_EQ(refused.header("allow"), "GET, HEAD");
    interrupt_and_expect_clean_exit(*server);
}

// Nothing outside the folder is ever served, however the path is spelled.
TEST_P(WebServer, EveryTraversalAttemptIsRefused) {
    auto server = start();
    for (const std::string target : {"/../secret.txt",
                                     "/%2e%2e/secret.txt",
                                     "/%2E%2E/secret.txt",
                                     "/..%2fsecret.txt",
                                     "/%2e%2e%2fsecret.txt",
                                     "/sub/../../secret.txt",
                                     "/sub/%2e%2e/%2e%2e/secret.txt",
                                     "/./../secret.txt",
                                     "/link_out",
                                     "/relative_link_out",
                                     "/dir_out/secret.txt",
                                     "/dir_out/www/page.html",
                                     "http://localhost/../secret.txt",
                                     "//etc/passwd",
                                     "/etc/passwd",
                                     "/%00",
                                     "/page.html%00.txt",
                                     "/%zz",
                                     "secret.txt",
                                     "*",
                                     "/fifo",
                                     "/..",
                                     "/sub/..%5c..%5csecret.txt"}) {
        Connection c(port_);
        c.send("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const Reply reply = read_reply(c);
        EXPECT_TRUE(reply.status == 400 || reply.status == 403 || reply.status == 404)
            << target << " got " << reply.status;
        EXPECT_EQ(reply.body.find("SECRET"), std::string::npos) << target;
    }
    EXPECT_EQ(fetch(port_, "/page.html").status, 200) << "the server serves on";
    interrupt_and_expect_clean_exit(*server);
}

// Keep-alive: several requests on one connection; HTTP/1.0 and "Connection: close" close after the reply.
TEST_P(WebServer, KeepAliveServesSeveralRequestsOnOneConnection) {
    auto server = start();
    Connection c(port_);
    for (int i = 0; i < 5; ++i) {
        c.send(get(i % 2 ? "/page.html" : "/nope"));
        const Reply reply = read_reply(c);
        EXPECT_EQ(reply.status, i % 2 ? 200 : 404) << "request " << i;
        EXPECT_EQ(reply.header("connection"), "keep-alive");
    }
    c.send(get("/index.html", "Connection: close\r\n"));
    EXPECT_EQ(read_reply(c).header("connection"), "close");
    EXPECT_TRUE(c.wait_closed());

    Connection old(port_);
    old.send("GET /page.html HTTP/1.0\r\n\r\n");
    const Reply reply = read_reply(old);
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.header("connection"), "close");
    EXPECT_TRUE(old.wait_closed());

    Connection old_keep(port_);
    old_keep.send("GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(read_reply(old_keep).header("connection"), "keep-alive");
    old_keep.send("GET /index.html HTTP/1.0\r\n\r\n");
    EXPECT_EQ(read_reply(old_keep).status, 200);
    interrupt_and_expect_clean_exit(*server);
}

// Pipelining: requests sent back to back in one segment are answered in order.
TEST_P(WebServer, PipelinedRequestsAreAnsweredInOrder) {
    auto server = start();
    Connection c(port_);
    c.send(get("/index.html") + "HEAD /page.html HTTP/1.1\r\nHost: x\r\n\r\n" + get("/nope") + get("/page.html") +
           get("/sub/", "Connection: close\r\n"));
    EXPECT_EQ(read_reply(c).body, "<html><body>home</body></html>\n");
    const Reply head = read_reply(c, true);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-length"), "4096");
    EXPECT_EQ(read_reply(c).status, 404);
    EXPECT_EQ(read_reply(c).body, site().page);
    EXPECT_EQ(read_reply(c).body, "<html>sub</html>\n");
    EXPECT_TRUE(c.wait_closed());
    interrupt_and_expect_clean_exit(*server);
}

// A 50 MiB file arrives byte for byte (sent with sendfile, never read whole into the server's memory).
TEST_P(WebServer, LargeFileArrivesByteExact) {
    auto server = start();
    const Reply reply = fetch(port_, "/big.bin", 60s);
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.header("content-type"), "application/octet-stream");
    ASSERT_EQ(reply.body.size(), kBigSize);
    EXPECT_TRUE(reply.body == site().big) << "the body differs from the file";
    interrupt_and_expect_clean_exit(*server);
}

// 100 clients connected at once, all served, each its own page.
TEST_P(WebServer, HundredClientsAtOnce) {
    auto server = start();
    const int clients = 100;
    std::vector<std::unique_ptr<Connection>> connections;
    for (int i = 0; i < clients; ++i) connections.push_back(std::make_unique<Connection>(port_));
    for (int i = 0; i < clients; ++i)
        connections[i]->send(get("/img/image" + std::to_string(i % 9 + 1) + ".gif", "Connection: close\r\n"));
    for (int i = 0; i < clients; ++i) {
        const Reply reply = read_reply(*connections[i], false, 30s);
        EXPECT_EQ(reply.status, 200) << "client " << i;
        EXPECT_EQ(reply.body, std::string(1621 + i % 9 + 1, char('0' + i % 9 + 1))) << "client " << i;
    }
    interrupt_and_expect_clean_exit(*server);
    EXPECT_TRUE(server->wait_for_text("served 100 connections, 100 requests in all"));
}

// The handout's test of concurrency: with -d every request takes the delay; ten clients at once finish
// together in a concurrent mode, one after another in the iterative one. The concurrent modes get a longer
// delay, so that their bound (half of what ten in a row would take) leaves seconds of slack for a loaded
// machine and a sanitizer build, and still fails for a server that serves one client at a time.
TEST_P(WebServer, TenDelayedClientsFinishTogether) {
    const int delay_ms = GetParam().concurrent ? 1000 : 300;
    auto server = start({"-d", "--delay-ms", std::to_string(delay_ms), "--threads", "10", "--processes", "10"});
    std::vector<std::unique_ptr<Connection>> connections;
    const auto begin = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) {
        connections.push_back(std::make_unique<Connection>(port_));
        connections.back()->send(get("/index.html", "Connection: close\r\n"));
    }
    for (auto& c : connections) EXPECT_EQ(read_reply(*c, false, 20s).status, 200);
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
    if (GetParam().concurrent)
        EXPECT_LT(elapsed.count(), 5 * delay_ms) << "ten delayed requests must overlap";
    else
        EXPECT_GE(elapsed.count(), 10 * delay_ms - 50) << "the iterative server serves one client after another";
    interrupt_and_expect_clean_exit(*server);
}

// Malformed and over-long requests get their status, the connection is closed, and the server serves on.
TEST_P(WebServer, MalformedAndOverLongRequestsGetTheirStatus) {
    auto server = start();
    const std::vector<std::pair<std::string, int>> cases = {
        {"GARBAGE\r\n\r\n", 400},
        {"GET /index.html\r\n\r\n", 400},
        {"GET  /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET /index.html HTTP/1.1\r\n\r\n", 400},  // HTTP/1.1 without Host
        {"GET /index.html HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400},
        {"GET /index.html HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400},
        {"GET /index.html HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
        {"GET /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
        {"GET /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n", 413},
        {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
        {"GET /" + std::string(20000, 'a'), 414},  // no end of line in sight
        {"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17000, 'b') + "\r\n\r\n", 431},
        {"GET / HTTP/1.1\r\nHost: x\r\n" + std::string(2000, 'X') + ": y\r\n" + std::string(16000, 'Y') + ": z\r\n\r\n",
         431},
        {"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501},
        {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        {"DELETE /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"GET / HTTP/3.1\r\n\r\n", 505},
    };
    for (const auto& [request, status] : cases) {
        Connection c(port_);
        c.send(request);
        const Reply reply = read_reply(c);
        EXPECT_EQ(reply.status, status) << request.substr(0, 60);
        EXPECT_EQ(reply.header("connection"), "close") << request.substr(0, 60);
        EXPECT_TRUE(c.wait_closed()) << request.substr(0, 60);
    }
    // A GET with a small body: the body is read and skipped, and the next request is answered.
    Connection with_body(port_);
    with_body.send("GET /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get("/page.html"));
    EXPECT_EQ(read_reply(with_body).status, 200);
    EXPECT_EQ(read_reply(with_body).body, site().page);
    with_body.close();  // (the iterative server serves one connection at a time)
    EXPECT_EQ(fetch(port_, "/page.html").status, 200) << "the server serves on";
    interrupt_and_expect_clean_exit(*server);
}

// A client that vanishes in the middle of a large body costs only its own connection.
TEST_P(WebServer, ClientVanishingMidBodyCostsOnlyItsConnection) {
    auto server = start();
    for (int i = 0; i < 3; ++i) {
        Connection c(port_);
        c.send(get("/big.bin"));
        EXPECT_EQ(c.read_exact(100000).size(), 100000u);
        linger reset{1, 0};  // close with a reset, as a crashed client does
        ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        c.close();
    }
    EXPECT_EQ(fetch(port_, "/page.html").body, site().page);
    EXPECT_TRUE(server->running());
    interrupt_and_expect_clean_exit(*server);
}

// Slowloris: clients that trickle a request never complete it. With a pool of two (and in the iterative
// server, a pool of one) they would hold every worker forever; the idle timeout (counted from accept, not
// restarted by single bytes) answers them 408 and frees the workers, so a normal client is served.
TEST_P(WebServer, SlowClientsTimeOutAndCannotStarveAPool) {
    auto server = start({"--threads", "2", "--processes", "2", "--idle-timeout", "1"});
    std::vector<std::unique_ptr<Connection>> slow;
    for (int i = 0; i < 2; ++i) {
        slow.push_back(std::make_unique<Connection>(port_));
        slow.back()->send("GET /index.html HTTP/1.1\r\n");
    }
    const auto begin = std::chrono::steady_clock::now();
    std::thread trickle([&] {
        for (int round = 0; round < 6; ++round) {
            std::this_thread::sleep_for(200ms);  // pacing a slow client, not waiting for readiness
            for (auto& c : slow) {
                try {
                    c->send("X");
                } catch (const std::exception&) {}
            }
        }
    });
    const Reply normal = fetch(port_, "/page.html", 10s);
    trickle.join();
    EXPECT_EQ(normal.status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - begin, scaled(5s));
    for (auto& c : slow) EXPECT_EQ(read_reply(*c).status, 408);
    // A connection that never sends anything is closed too (with a 408).
    Connection silent(port_);
    EXPECT_EQ(read_reply(silent, false, 5s).status, 408);
    interrupt_and_expect_clean_exit(*server);
}

// Ctrl-C while responses are under way: the server stops accepting, every response already begun
// completes (a 50 MiB body to a client that reads slowly, a delayed request), then it exits 0.
TEST_P(WebServer, CtrlCLetsEveryResponseInProgressComplete) {
    // The grace must outlast the 50 MiB download, which a sanitized server sends several times slower.
    const auto grace = std::chrono::duration_cast<std::chrono::seconds>(scaled(10s)).count();
    auto server = start({"-v", "-d", "--delay-ms", "500", "--grace", std::to_string(grace)});
    Connection downloading(port_);
    downloading.send(get("/big.bin", "Connection: close\r\n"));
    const std::string start_of_body = downloading.read_exact(1000);  // the response has begun, the rest waits
    ASSERT_EQ(start_of_body.size(), 1000u);
    // (The iterative server is busy with the download: the other clients wait in its backlog.)
    const bool concurrent = GetParam().concurrent;
    Connection delayed(port_);
    if (concurrent) {
        delayed.send(get("/page.html", "Connection: close\r\n"));
        ASSERT_TRUE(server->wait_for_text("GET /page.html received"));
    }
    Connection idle(port_);  // connected, sends nothing: closed at once, does not hold the exit up

    server->signal_group(SIGINT);
    if (concurrent) {
        EXPECT_EQ(read_reply(delayed).body, site().page) << "the delayed request is answered";
    }
    std::string rest = start_of_body + downloading.read_all(60s);
    const size_t head_end = rest.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    EXPECT_EQ(rest.size() - head_end - 4, kBigSize) << "the whole body arrives";
    EXPECT_TRUE(rest.compare(head_end + 4, std::string::npos, site().big) == 0);
    EXPECT_TRUE(idle.wait_closed(5s));
    EXPECT_EQ(server->wait_exit(15s), 0);
    EXPECT_TRUE(server->wait_for_text("server stopped by SIGINT, every thread joined and every child reaped"));
}

// Ctrl-C with a keep-alive client that is between requests: the server exits promptly, not after the grace.
TEST_P(WebServer, CtrlCClosesIdleKeepAliveConnectionsAtOnce) {
    auto server = start({"--grace", "20"});
    Connection c(port_);
    c.send(get("/page.html"));
    EXPECT_EQ(read_reply(c).status, 200);
    const auto begin = std::chrono::steady_clock::now();
    server->signal_group(SIGINT);
    EXPECT_TRUE(c.wait_closed(10s));
    EXPECT_EQ(server->wait_exit(15s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - begin, scaled(5s));
    EXPECT_TRUE(server->zombie_children().empty());
}

// -v prefixes each log line with the connection and the worker that served it.
TEST_P(WebServer, VerboseLogNamesConnectionAndWorker) {
    auto server = start({"-v"});
    EXPECT_EQ(fetch(port_, "/page.html").status, 200);
    EXPECT_TRUE(server->wait_for_match(
        std::regex("\\[conn 1 127\\.0\\.0\\.1:\\d+, .+\\] GET /page\\.html -> 200 \\(4096 bytes\\)")));
    interrupt_and_expect_clean_exit(*server);
}

// --- the command line -------------------------------------------------------------------------------------

TEST(Lab08WebServerCli, HelpShowsEveryOptionAndDefaults) {
    const Result help = run({kServer, "--help"});
    EXPECT_EQ(help.status, 0);
    for (const std::string option : {"-p", "--port", "-v", "-d", "-f", "--folder", "-c", "--concurrency", "--threads",
                                     "--processes", "--workers", "--delay-ms", "--idle-timeout", "--grace", "8085"})
        EXPECT_NE(help.out.find(option), std::string::npos) << option;
    EXPECT_EQ(run({kClient, "--help"}).status, 0);
}

TEST(Lab08WebServerCli, UsageErrorsExit2AndAMissingFolderExits1) {
    const Result bad_mode = run({kServer, "-c", "fibers"});
    EXPECT_EQ(bad_mode.status, 2);
    EXPECT_EQ(lines(bad_mode.err).size(), 1u) << bad_mode.err;
    EXPECT_EQ(run({kServer, "-p", "70000"}).status, 2);
    EXPECT_EQ(run({kClient, "3", "localhost"}).status, 2);
    const Result missing = run({kServer, "-p", "0", "-f", "/no/such/folder"});
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("/no/such/folder"), std::string::npos) << missing.err;
}

// Where the kernel refuses io_uring, `-c uring` says why in one line and exits 1 before listening. The refusal
// is made by strace, which fails the server's io_uring_setup with EPERM (as a seccomp filter does) and ENOSYS
// (a kernel without io_uring).
TEST(Lab08WebServerCli, UringRefusedSaysWhyAndExits1) {
    if (::access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/strace to refuse io_uring_setup";
    for (const std::string error : {"EPERM", "ENOSYS"}) {
        // (-E: LeakSanitizer cannot run under ptrace, so the AddressSanitizer build runs without it here.)
        const Result refused = run({"/usr/bin/strace", "-f", "-o", "/dev/null", "-E", "ASAN_OPTIONS=detect_leaks=0",
                                    "-e", "inject=io_uring_setup:error=" + error, kServer, "-p", "0", "-c", "uring"});
        if (refused.err.rfind("strace: ", 0) == 0) GTEST_SKIP() << "strace cannot trace here: " << refused.err;
        EXPECT_EQ(refused.status, 1) << error << ": " << refused.err;
        EXPECT_EQ(lines(refused.err).size(), 1u) << refused.err;
        EXPECT_EQ(refused.err.rfind("server: io_uring is not available here: io_uring_setup: ", 0), 0u) << refused.err;
        EXPECT_EQ(refused.out.find("listening on"), std::string::npos) << "nothing may listen";
    }
}

// The port comes one way: `./server 21200 -p 21201` is a usage error naming both, not a silent choice.
TEST(Lab08WebServerCli, APortGivenTwiceIsAUsageError) {
    for (const std::vector<std::string>& argv : {std::vector<std::string>{kServer, "21200", "-p", "21201"},
                                                 std::vector<std::string>{kServer, "--port", "21201", "21200"}}) {
        const Result both = run(argv);
        EXPECT_EQ(both.status, 2) << both.out;
        EXPECT_EQ(lines(both.err).size(), 1u) << both.err;
        EXPECT_NE(both.err.find("21200"), std::string::npos) << both.err;
        EXPECT_NE(both.err.find("21201"), std::string::npos) << both.err;
        EXPECT_EQ(both.out.find("listening on"), std::string::npos) << "nothing may listen";
    }
}

TEST(Lab08WebServerCli, DefaultsToPort8085AndThreadMode) {
    const Result help = run({kServer, "--help"});
    EXPECT_NE(help.out.find("thread"), std::string::npos);
    Process server({kServer, "-p", "0", "-f", site().www.string()});
    server.wait_for_listening();
    EXPECT_TRUE(server.wait_for_text("concurrency: thread)"));
}

// --- the web client ------------------------------------------------------------------------------------------

class WebClient : public testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Lab08, WebClient, testing::Values("threads", "poll-threads", "nonblock"),
                         [](const testing::TestParamInfo<std::string>& info) {
                             return info.param == "poll-threads" ? std::string("poll_threads") : info.param;
                         });

// The lecture's run: a home page, then nine files over three connections; every file saved byte for byte.
TEST_P(WebClient, FetchesHomePageAndFilesByteExact) {
    Process server({kServer, "-p", "0", "-f", site().www.string()});
    const uint16_t port = server.wait_for_listening();
    const fs::path out = site().base / ("out-" + GetParam());
    std::vector<std::string> argv{kClient, "3", "localhost", "index.html"};
    for (int i = 1; i <= 9; ++i) argv.push_back("img/image" + std::to_string(i) + ".gif");
    argv.push_back("big.bin");
    argv.insert(argv.end(), {"-p", std::to_string(port), "--mode", GetParam(), "-o", out.string()});
    const Result result = run(argv, "", 60s);
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(lines(result.out).at(0), "nfiles = 10");
    EXPECT_NE(result.out.find("home page index.html: 31 bytes, status 200 OK"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("fetched 11 of 11 files"), std::string::npos) << result.out;
    for (int i = 1; i <= 9; ++i) {
        const std::string name = "img/image" + std::to_string(i) + ".gif";
        std::ifstream saved(out / name, std::ios::binary);
        const std::string content((std::istreambuf_iterator<char>(saved)), {});
        EXPECT_EQ(content, std::string(1621 + i, char('0' + i))) << name;
        EXPECT_NE(result.out.find(name + " done: " + std::to_string(1621 + i) + " bytes, status 200 OK"),
                  std::string::npos);
    }
    std::ifstream big(out / "big.bin", std::ios::binary);
    const std::string big_content((std::istreambuf_iterator<char>(big)), {});
    EXPECT_TRUE(big_content == site().big) << "big.bin differs";
    if (GetParam() != "nonblock") {
        EXPECT_NE(result.out.find("thread 1 for img/image1.gif done"), std::string::npos) << result.out;
    }
    // Only the polling main thread counts its rounds.
    EXPECT_EQ(result.out.find("main polled ndone ") != std::string::npos, GetParam() == "poll-threads") << result.out;
}

// At most NCONNS connections at once, and that many in parallel. The test plays the server and answers
// nothing until it has seen what it expects: with NCONNS=3 and 6 files, exactly 3 connections open and no
// 4th comes while they wait; each answer lets one more in. With NCONNS=6 all 6 open before any answer (a
// client that fetched one file at a time would never get there, and the test would fail its deadline).
TEST_P(WebClient, NconnsBoundsTheConnectionsAtOnce) {
    for (const int nconns : {3, 6}) {
        SCOPED_TRACE(std::to_string(nconns) + " connections");
        netutil::UniqueFd listener = netutil::tcp_listen("127.0.0.1", 0);
        const uint16_t port = netutil::local_address(listener.get()).port();
        std::vector<std::string> argv{kClient, std::to_string(nconns), "127.0.0.1", "index.html"};
        for (int i = 1; i <= 6; ++i) argv.push_back("img/image" + std::to_string(i) + ".gif");
        argv.insert(argv.end(), {"-p", std::to_string(port), "--mode", GetParam()});
        Process client(argv, {.name = "client"});

        // A connection that has arrived within `timeout`, with its request read; an empty fd if none came.
        const auto next_request = [&](Duration timeout) {
            if (netutil::wait_readable(listener.get(), -1,
                                       int(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count())) !=
                netutil::Wait::Ready)
                return netutil::UniqueFd();
            netutil::UniqueFd connection = netutil::accept_client(listener.get());
            std::string request;
            char buffer[1024];
            while (request.find("\r\n\r\n") == std::string::npos) {
                const size_t n = netutil::read_some(connection.get(), buffer, sizeof buffer);
                if (n == 0) break;
                request.append(buffer, n);
            }
            EXPECT_EQ(request.rfind("GET /", 0), 0u) << request;
            return connection;
        };
        const auto answer = [](netutil::UniqueFd& connection) {
            netutil::write_all(connection.get(),
                               "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
            connection.reset();
        };

        netutil::UniqueFd home = next_request(scaled(10s));
        ASSERT_TRUE(home) << "the home page was never requested";
        answer(home);
        std::vector<netutil::UniqueFd> open;
        for (int i = 0; i < nconns; ++i) {
            open.push_back(next_request(scaled(10s)));
            ASSERT_TRUE(open.back()) << "only " << i << " connections opened at once";
        }
        int served = 0;
        while (!open.empty()) {
            // The client is at its bound: nothing more arrives while every connection waits (looked at
            // before the first answer and after it).
            if (served < 2) {
                EXPECT_FALSE(next_request(scaled(300ms))) << "a connection past NCONNS after " << served << " files";
            }
            answer(open.front());
            open.erase(open.begin());
            if (++served + nconns <= 6) {
                open.push_back(next_request(scaled(10s)));
                ASSERT_TRUE(open.back()) << "no new connection after a file was done";
            }
        }
        EXPECT_EQ(client.wait_exit(scaled(10s)), 0);
        EXPECT_TRUE(client.wait_for_text("fetched 7 of 7 files"));
    }
}

TEST_P(WebClient, NotFoundAndUnreachableServerExitNonZeroNamingTheFile) {
    Process server({kServer, "-p", "0", "-f", site().www.string()});
    const uint16_t port = server.wait_for_listening();
    const Result missing = run({kClient, "2", "localhost", "index.html", "page.html", "missing.gif", "-p",
                                std::to_string(port), "--mode", GetParam()});
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("missing.gif: 106 bytes, status 404 Not Found"), std::string::npos) << missing.err;
    EXPECT_EQ(missing.err.find("page.html"), std::string::npos) << "only the failed file is named";
    EXPECT_NE(missing.out.find("fetched 2 of 3 files"), std::string::npos);

    server.signal_group(SIGINT);
    EXPECT_EQ(server.wait_exit(), 0);
    const Result refused =
        run({kClient, "2", "localhost", "index.html", "page.html", "-p", std::to_string(port), "--mode", GetParam()});
    EXPECT_EQ(refused.status, 1);
    EXPECT_NE(refused.err.find("index.html"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("Connection refused"), std::string::npos) << refused.err;
}

// Out of descriptors (EMFILE): the server that holds every connection in one process (a thread each, or
// one event loop) answers the clients it cannot take 503 (whether accept or opening the file ran out),
// never spins or dies, and serves again once descriptors are free.
TEST(Lab08WebServerLimits, OutOfDescriptorsAnswers503AndServesOn) {
    // Release build only: the sanitizers' runtimes need descriptors of their own (to start a thread, to
    // check a type), so with none left they report errors of their own making.
    if (sanitized()) GTEST_SKIP() << "needs the release build";
    std::vector<std::string> modes{"thread", "async"};
    if (http_helpers::uring_refused().empty()) modes.push_back("uring");
    for (const std::string& mode : modes) {
        SCOPED_TRACE(mode);
        Process server({kServer, "-p", "0", "-f", site().www.string(), "-c", mode},
                       {.name = "server " + mode, .rlimits = {{RLIMIT_NOFILE, 32}}});
        const uint16_t port = server.wait_for_listening();
        std::vector<std::unique_ptr<Connection>> held;
        int ok = 0, refused = 0;
        for (int i = 0; i < 40; ++i) {
            held.push_back(std::make_unique<Connection>(port));
            held.back()->send(get("/index.html"));  // keep-alive: the server keeps the descriptor
            const Reply reply = read_reply(*held.back());
            if (reply.status == 200) ++ok;
            if (reply.status == 503) ++refused;
        }
        EXPECT_EQ(ok + refused, 40);
        EXPECT_GT(ok, 10);
        EXPECT_GT(refused, 0) << "some clients must have met the descriptor limit";
        held.clear();  // the clients leave: descriptors come back (once the server has seen them close)
        int status = 0;
        const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
        while (status != 200 && std::chrono::steady_clock::now() < deadline) status = fetch(port, "/page.html").status;
        EXPECT_EQ(status, 200);
        EXPECT_TRUE(server.running());
        server.signal_group(SIGINT);
        EXPECT_EQ(server.wait_exit(), 0);
    }
}
