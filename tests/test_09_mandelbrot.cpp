// Tests of lab 09_mandelbrot, run as a user runs it: the real ./server (the manager) and ./client (the workers).
//
// Slides: the lecture "Multithreaded Servers" (lecture 32), slides "The Mandelbrot Set" and "Manager/Worker
// Paradigm" (the static `k mod n` assignment); the lecture "Client-server architecture model: with sockets and
// multiprocessing in Python", slide "Considerations" ("What happens when something goes wrong?").
// Suites: Lab09Mandelbrot (the picture, the total, bad peers, wrong answers, no worker left, Ctrl-C, usage);
// Lab09/Schedules (static and dynamic: the same picture for 1 to 3 workers, a worker killed mid-run).
// The fault tests of this lab are Lab09/FaultsManager in test_faults_workers.cpp, the MPI version's
// Lab09/MpiMandelbrot and Lab09/MpiUsage in test_mpi.cpp.
// Demo: ./server 11268 2 -o mandelbrot.png, then ./client twice.
// What to watch for: the picture is the same bytes whatever the number of workers and the schedule, and the
// same as --local; a worker killed mid-run changes nothing but the log; with no worker left the manager says
// so and exits 1; connections that do not speak the protocol are turned away and never count as workers.
#include "tests/harness.hpp"
#include "tests/worker_helpers.hpp"

#include "09_mandelbrot/mandelbrot.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

using namespace harness;
using worker_helpers::with;

namespace {

const std::string kServer = program("09_mandelbrot", "server");
const std::string kClient = program("09_mandelbrot", "client");

// A small canvas keeps the tests fast; the full 500x400 slide canvas has a test of its own.
const std::vector<std::string> kSmall = {"--width", "120", "--height", "96"};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// A fresh directory for the pictures of one test, removed at the end.
struct TempDir {
    std::string path;
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "labkit-09-XXXXXX").string();
        path = ::mkdtemp(pattern.data()) ? pattern : "";
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    std::string file(const std::string& name) const { return path + "/" + name; }
};

std::vector<std::string> worker_args(uint16_t port, const std::vector<std::string>& more = {}) {
    return worker_helpers::worker_argv(kClient, port, more);
}

// The line `total iterations N...` of a manager's output.
std::string total_line(const std::string& out) {
    std::smatch match;
    static const std::regex total("total iterations (\\d+)");
    return std::regex_search(out, match, total) ? match[1].str() : "missing";
}

// The reference: --local on `canvas`, written to dir/local.png (and local.pgm).
struct Reference {
    std::string pgm, png, total;
};
Reference local_reference(const TempDir& dir, const std::vector<std::string>& canvas) {
    const Result local = run(with({kServer, "--local", "-o", dir.file("local.png")}, canvas), "", scaled(30s));
    EXPECT_EQ(local.status, 0) << local.err;
    return {read_file(dir.file("local.pgm")), read_file(dir.file("local.png")), total_line(local.out)};
}

// Runs the manager with `nworkers` real workers and returns its output; the picture goes to dir/NAME.png.
std::string run_with_workers(const TempDir& dir, const std::string& name, int nworkers, const std::string& schedule,
                             const std::vector<std::string>& canvas) {
    return worker_helpers::run_with_workers(
        with({kServer, "0", std::to_string(nworkers), "--schedule", schedule, "-o", dir.file(name + ".png")}, canvas),
        kClient, nworkers);
}

}  // namespace

// The slide's canvas: 500 x 400 over [-2, 0.5] x [-1, 1]. Our count (README: why it is not the slide's
// 16,652,580 exactly) and the same picture from two workers as from --local.
TEST(Lab09Mandelbrot, SlideCanvasTwoWorkersEqualLocal) {
    TempDir dir;
    const Reference reference = local_reference(dir, {});
    EXPECT_EQ(reference.total, "16668098");
    EXPECT_EQ(reference.pgm.size(), std::string("P5\n500 400\n255\n").size() + 500 * 400);
    EXPECT_EQ(reference.pgm.rfind("P5\n500 400\n255\n", 0), 0u);
    EXPECT_EQ(reference.png.rfind("\x89PNG\r\n\x1a\n", 0), 0u) << "not a PNG file";
    const std::string out = run_with_workers(dir, "two", 2, "static", {});
    EXPECT_NE(out.find("total iterations 16668098 (the slide says 16,652,580"), std::string::npos) << out;
    EXPECT_EQ(read_file(dir.file("two.pgm")), reference.pgm);
    EXPECT_EQ(read_file(dir.file("two.png")), reference.png);
    // The slide's assignment: worker t gets the columns k with k mod 2 = t, 250 each.
    EXPECT_NE(out.find("worker 0: 250 columns"), std::string::npos) << out;
    EXPECT_NE(out.find("worker 1: 250 columns"), std::string::npos) << out;
}

class Schedules : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Lab09, Schedules, ::testing::Values("static", "dynamic"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Byte-identical pictures for 1, 2 and 3 workers, equal to --local, and the same total.
TEST_P(Schedules, SamePictureForAnyNumberOfWorkers) {
    TempDir dir;
    const Reference reference = local_reference(dir, kSmall);
    for (const int nworkers : {1, 2, 3}) {
        SCOPED_TRACE(std::to_string(nworkers) + " workers, " + GetParam());
        const std::string name = "run" + std::to_string(nworkers);
        const std::string out = run_with_workers(dir, name, nworkers, GetParam(), kSmall);
        EXPECT_EQ(total_line(out), reference.total);
        EXPECT_EQ(read_file(dir.file(name + ".pgm")), reference.pgm);
        EXPECT_EQ(read_file(dir.file(name + ".png")), reference.png);
        // The columns per worker add up to the width.
        int columns = 0;
        std::smatch match;
        std::string rest = out;
        static const std::regex per_worker("worker \\d+: (\\d+) columns?");
        while (std::regex_search(rest, match, per_worker)) {
            columns += std::stoi(match[1].str());
            rest = match.suffix();
        }
        EXPECT_EQ(columns, 120);
    }
}

// A worker killed mid-run: its unfinished columns go to the other worker, the picture is still identical.
TEST_P(Schedules, WorkerKilledMidRunLosesNothing) {
    TempDir dir;
    const Reference reference = local_reference(dir, kSmall);
    Process server(with({kServer, "0", "2", "--schedule", GetParam(), "-o", dir.file("killed.pgm")}, kSmall));
    const uint16_t port = server.wait_for_listening();
    Process steady(worker_args(port, {"--delay-ms", "10"}), {.name = "steady worker"});
    ASSERT_TRUE(server.wait_for_match(std::regex("worker \\d connected from .*")));
    Process doomed(worker_args(port, {"--delay-ms", "20", "--verbose"}), {.name = "doomed worker"});
    ASSERT_TRUE(server.wait_for_text("all 2 workers connected"));
    // Killed after its first column, with many still to do (static: 59 more of its own).
    ASSERT_TRUE(doomed.wait_for_match(std::regex("computed column \\d+"), scaled(10s)));
    doomed.signal(SIGKILL);
    EXPECT_EQ(doomed.wait_exit(), 128 + SIGKILL);
    ASSERT_TRUE(server.wait_for_match(
        std::regex("worker 1 lost \\(.*\\): \\d+ unfinished columns? go(es)? to the other workers"), scaled(20s)));
    EXPECT_EQ(steady.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    server.wait_output_closed();
    EXPECT_EQ(total_line(server.out()), reference.total);
    EXPECT_EQ(read_file(dir.file("killed.pgm")), reference.pgm);
    EXPECT_TRUE(server.wait_for_match(std::regex("worker 1: \\d+ columns?, .* \\(lost\\)")));
}

// No worker left: the manager says so on stderr and exits 1, without waiting for anyone.
TEST(Lab09Mandelbrot, NoWorkerLeftExitsNonZero) {
    TempDir dir;
    Process server(with({kServer, "0", "2", "-o", dir.file("none.pgm")}, kSmall));
    const uint16_t port = server.wait_for_listening();
    Process first(worker_args(port, {"--delay-ms", "50", "--verbose"}), {.name = "worker A"});
    Process second(worker_args(port, {"--delay-ms", "50", "--verbose"}), {.name = "worker B"});
    ASSERT_TRUE(first.wait_for_text("computed column", scaled(10s)));
    first.signal(SIGKILL);
    ASSERT_TRUE(server.wait_for_text(" lost (", scaled(10s)));
    second.signal(SIGKILL);
    EXPECT_EQ(server.wait_exit(scaled(10s)), 1);
    EXPECT_TRUE(server.wait_for_err_text("no worker left: "));
    EXPECT_FALSE(std::filesystem::exists(dir.file("none.pgm")));
}

// Connections that do not speak the protocol are turned away with one error line and never count as
// workers: after them, one real worker still gets every column.
TEST(Lab09Mandelbrot, BadPeersAreTurnedAway) {
    TempDir dir;
    const Reference reference = local_reference(dir, kSmall);
    Process server(with({kServer, "0", "1", "-o", dir.file("after.pgm")}, kSmall));
    const uint16_t port = server.wait_for_listening();
    {
        Connection http(port);
        http.send("GET / HTTP/1.1\r\n\r\n");
        EXPECT_EQ(http.read_line(scaled(5s)), "error: expected HELLO mandelbrot 1");
        EXPECT_TRUE(http.wait_closed(scaled(5s)));
        ASSERT_TRUE(server.wait_for_text("turned away 127.0.0.1:" + std::to_string(http.local_port()) +
                                         ": sent \"GET / HTTP/1.1\" instead of HELLO mandelbrot 1"));
    }
    {
        Connection wrong_lab(port);
        wrong_lab.send("HELLO pi 1\n");
        EXPECT_EQ(wrong_lab.read_line(scaled(5s)), "error: expected HELLO mandelbrot 1");
        EXPECT_TRUE(wrong_lab.wait_closed(scaled(5s)));
    }
    {
        Connection binary(port);
        binary.send(std::string(300, '\xff'));
        EXPECT_TRUE(binary.wait_closed(scaled(5s)));
        ASSERT_TRUE(server.wait_for_text(": sent a line too long"));
    }
    worker_helpers::expect_silent_peer_then_one_worker(server, port, kClient);
    EXPECT_EQ(read_file(dir.file("after.pgm")), reference.pgm);
}

// A worker that says HELLO and then answers wrongly (another column, grayscales that do not add up to
// its iteration count, a truncated column) is dropped; its column is redone by the honest worker.
TEST(Lab09Mandelbrot, WrongAnswersAreRejectedAndRedone) {
    TempDir dir;
    const Reference reference = local_reference(dir, kSmall);
    const std::vector<std::string> bad_replies = {
        "PIXELS 9999 0\n",                         // a column that does not exist
        "PIXELS COLUMN\n",                         // not the format
        "PIXELS K 1\n",                            // (K replaced by the column asked) 96 bytes that add up to 0, not 1
        "PIXELS K 0\n" + std::string(10, '\xff'),  // the connection closes after 10 of 96 bytes
    };
    for (size_t i = 0; i < bad_replies.size(); ++i) {
        SCOPED_TRACE("bad reply " + std::to_string(i));
        const std::string name = "bad" + std::to_string(i);
        Process server(with({kServer, "0", "2", "--schedule", "dynamic", "-o", dir.file(name + ".pgm")}, kSmall));
        const uint16_t port = server.wait_for_listening();
        auto fake = std::make_unique<Connection>(port);
        fake->send("HELLO mandelbrot 1\n");
        ASSERT_EQ(fake->read_line(scaled(5s)), "CANVAS 120 96 -2 0.5 -1 1 255");
        Process honest(worker_args(port, {"--delay-ms", "5"}));
        const auto request = fake->read_line(scaled(10s));
        ASSERT_TRUE(request && request->rfind("COLUMN ", 0) == 0) << request.value_or("nothing");
        std::string reply = bad_replies[i];
        if (const auto k = reply.find(" K "); k != std::string::npos) reply.replace(k + 1, 1, request->substr(7));
        if (i == 2) reply += std::string(96, '\xff');
        fake->send(reply);
        if (i == 3) fake->close();
        ASSERT_TRUE(server.wait_for_match(
            std::regex("worker \\d lost \\(.*\\): [1-9]\\d* unfinished columns? go(es)? to the other workers"),
            scaled(10s)));
        EXPECT_EQ(honest.wait_exit(scaled(20s)), 0);
        EXPECT_EQ(server.wait_exit(scaled(20s)), 0);
        EXPECT_EQ(read_file(dir.file(name + ".pgm")), reference.pgm);
    }
}

// The worker checks the manager too: a canvas it cannot draw is refused with status 1.
TEST(Lab09Mandelbrot, WorkerRejectsABadManager) {
    for (const std::string bad : {"CANVAS 0 400 -2 0.5 -1 1 255", "CANVAS 500 400 0.5 -2 -1 1 255",
                                  "CANVAS 500 400 -2 0.5 -1 1 1000", "hello there"})
        worker_helpers::expect_worker_rejects(kClient, "HELLO mandelbrot 1", bad);
}

// Workers may start before the manager: they retry connecting (for --retry seconds) and then join.
TEST(Lab09Mandelbrot, WorkerStartedBeforeTheManagerJoinsLater) {
    TempDir dir;
    const uint16_t port = worker_helpers::free_manager_port(kServer);
    const auto early = worker_helpers::early_worker(kClient, port);
    Process server(with({kServer, std::to_string(port), "2", "-o", dir.file("late.pgm")}, kSmall));
    ASSERT_EQ(server.wait_for_listening(), port);
    ASSERT_TRUE(server.wait_for_text("worker 0 connected from", scaled(10s)));
    Process late(worker_args(port), {.name = "late worker"});
    EXPECT_EQ(early->wait_exit(scaled(20s)), 0);
    EXPECT_EQ(late.wait_exit(scaled(20s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(20s)), 0);
    // A worker with nobody to talk to gives up after its --retry seconds, naming what failed.
    const Result nobody = run(worker_args(port, {"--retry", "0"}));
    EXPECT_EQ(nobody.status, 1);
    EXPECT_NE(nobody.err.find("connect to localhost:" + std::to_string(port)), std::string::npos) << nobody.err;
}

// Ctrl-C of the manager mid-run: it exits 0 within seconds, writes no picture, and the workers, who see
// the connection close, exit 0 too. Also before the start, with a worker waiting for the others.
TEST(Lab09Mandelbrot, CtrlCStopsManagerAndWorkersCleanly) {
    TempDir dir;
    worker_helpers::expect_stopped_mid_run(
        with({kServer, "0", "2", "-o", dir.file("stopped.pgm")}, kSmall), kClient, "50",
        std::regex("computed column \\d+"), SIGINT, true,
        std::regex("manager stopped by SIGINT: \\d+ of 120 columns were done, no picture written"));
    EXPECT_FALSE(std::filesystem::exists(dir.file("stopped.pgm")));
    {
        Process server(with({kServer, "0", "2"}, kSmall));
        const uint16_t port = server.wait_for_listening();
        Process lonely(worker_args(port));
        ASSERT_TRUE(server.wait_for_text("worker 0 connected from"));
        ASSERT_TRUE(lonely.wait_for_line("canvas 120x96"));
        server.signal(SIGINT);
        EXPECT_EQ(server.wait_exit(scaled(5s)), 0);
        EXPECT_TRUE(server.wait_for_line("manager stopped by SIGINT: the work had not started, no picture written"));
        EXPECT_EQ(lonely.wait_exit(scaled(5s)), 0);
    }
}

// A worker that leaves while waiting for the others frees its place: the manager waits for one more.
TEST(Lab09Mandelbrot, WorkerLeavingBeforeTheStartIsReplaced) {
    TempDir dir;
    Process server(with({kServer, "0", "2", "-o", dir.file("replaced.pgm")}, kSmall));
    const uint16_t port = server.wait_for_listening();
    {
        Process quitter(worker_args(port));
        ASSERT_TRUE(quitter.wait_for_line("canvas 120x96"));
        quitter.signal(SIGKILL);
        ASSERT_TRUE(server.wait_for_line("worker 0 left before the start: waiting for 2 more"));
    }
    Process a(worker_args(port)), b(worker_args(port));
    EXPECT_EQ(a.wait_exit(scaled(20s)), 0);
    EXPECT_EQ(b.wait_exit(scaled(20s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(20s)), 0);
    server.wait_output_closed();
    EXPECT_EQ(server.count_matching(std::regex("worker [01]: 60 columns, .*")), 2u);
}

TEST(Lab09Mandelbrot, UsageErrorsExit2) {
    worker_helpers::expect_usage_errors(
        kServer, {{"--schedule", "random"}, {"--width", "0"}, {"--height", "20000"}, {"0", "0"}, {"70000"}},
        {"--schedule", "static", "dynamic", "--width", "500", "--height", "400", "--local", "mandelbrot.pgm", "11268",
         "--hello-timeout", "--reply-timeout", "SIGHUP"});
    // An unwritable picture is a runtime error naming the file.
    const Result unwritable =
        run({kServer, "--local", "--width", "8", "--height", "8", "-o", "/nonexistent/dir/x.pgm"});
    EXPECT_EQ(unwritable.status, 1);
    EXPECT_NE(unwritable.err.find("/nonexistent/dir/x.pgm"), std::string::npos) << unwritable.err;
}

namespace {

const std::vector<std::string> kTiny = {"--width", "16", "--height", "8"};

// The test plays the worker on `c`: the next line must be COLUMN K of `canvas`; returns K.
std::optional<int> read_column(Connection& c, const mandelbrot::Canvas& canvas) {
    const auto line = c.read_line(scaled(10s));
    if (!line) return std::nullopt;
    return mandelbrot::parse_column_line(*line, canvas.width);
}
std::string pixels_for(const mandelbrot::Canvas& canvas, int column) {
    std::vector<uint8_t> gray(static_cast<size_t>(canvas.height));
    const uint64_t iterations = mandelbrot::compute_column(canvas, column, gray.data());
    return mandelbrot::pixels_line({column, iterations}) + "\n" + std::string(gray.begin(), gray.end());
}
// HELLO, then the CANVAS line the manager sends back.
std::optional<mandelbrot::Canvas> say_hello(Connection& c) {
    c.send(std::string(mandelbrot::kHello) + "\n");
    const auto line = c.read_line(scaled(10s));
    return line ? mandelbrot::parse_canvas_line(*line) : std::nullopt;
}

}  // namespace

// --prefetch K: the manager sends K columns before it reads the first answer, then one more per answer, never
// more than K out. With 1, one column at a time. The test plays the only worker and answers nothing at first.
TEST(Lab09Mandelbrot, PrefetchKeepsKColumnsOutBeforeAnyAnswer) {
    TempDir dir;
    const Reference reference = local_reference(dir, kTiny);
    for (const int k : {1, 4}) {
        SCOPED_TRACE("--prefetch " + std::to_string(k));
        Process server(with({kServer, "0", "1", "--prefetch", std::to_string(k), "-o", dir.file("k.pgm")}, kTiny));
        const uint16_t port = server.wait_for_listening();
        Connection fake(port);
        const auto canvas = say_hello(fake);
        ASSERT_TRUE(canvas);
        std::deque<int> out;
        for (int i = 0; i < k; ++i) {
            const auto column = read_column(fake, *canvas);
            ASSERT_TRUE(column) << "column " << i << " of " << k << " not sent before any answer";
            EXPECT_EQ(*column, i);
            out.push_back(*column);
        }
        EXPECT_FALSE(fake.read_line(300ms)) << "more than " << k << " columns out";
        fake.send(pixels_for(*canvas, out.front()));
        out.pop_front();
        const auto next = read_column(fake, *canvas);
        ASSERT_TRUE(next) << "no column sent for the answer";
        EXPECT_EQ(*next, k);
        out.push_back(*next);
        EXPECT_FALSE(fake.read_line(300ms)) << "more than one column sent for one answer";
        if (k >= 3) {
            // Two answers in one write (as the kit's worker sends them with columns waiting): two columns more.
            fake.send(pixels_for(*canvas, out[0]) + pixels_for(*canvas, out[1]));
            out.erase(out.begin(), out.begin() + 2);
            for (int i = 0; i < 2; ++i) {
                const auto more = read_column(fake, *canvas);
                ASSERT_TRUE(more) << "answer " << i << " of two in one write: no column sent for it";
                EXPECT_EQ(*more, k + 1 + i);
                out.push_back(*more);
            }
            EXPECT_FALSE(fake.read_line(300ms)) << "more than two columns sent for two answers";
        }
        // The rest of the run: the columns out answered, then each new one as it comes, until BYE.
        for (const auto& held : out) fake.send(pixels_for(*canvas, held));
        for (;;) {
            const auto line = fake.read_line(scaled(10s));
            ASSERT_TRUE(line);
            if (*line == "BYE") break;
            const auto column = mandelbrot::parse_column_line(*line, canvas->width);
            ASSERT_TRUE(column) << *line;
            fake.send(pixels_for(*canvas, *column));
        }
        EXPECT_EQ(server.wait_exit(scaled(20s)), 0);
        server.wait_output_closed();
        EXPECT_EQ(total_line(server.out()), reference.total);
        EXPECT_EQ(read_file(dir.file("k.pgm")), reference.pgm);
    }
}

// Columns that come together (the manager tops its window up in one write) are all answered, in order, a few
// to a write, and the answers before a line that is not the protocol are sent before the error (status 1).
TEST(Lab09Mandelbrot, WorkerAnswersColumnsThatCameTogether) {
    const netutil::UniqueFd listener = netutil::tcp_listen("127.0.0.1", 0);
    const uint16_t port = netutil::local_address(listener.get()).port();
    Process worker(worker_helpers::worker_argv(kClient, port));
    ASSERT_EQ(netutil::wait_readable(listener.get(), -1, static_cast<int>(scaled(10s).count())), netutil::Wait::Ready)
        << "the worker did not connect";
    const netutil::UniqueFd manager = netutil::accept_client(listener.get());
    ASSERT_TRUE(manager);
    const std::string canvas_line = "CANVAS 9 7 -2 0.5 -1 1 255";
    netutil::write_all(manager.get(), canvas_line + "\nCOLUMN 0\nCOLUMN 1\nCOLUMN 2\nCOLUMN 3\nCOLUMN 4\nnonsense\n");
    EXPECT_EQ(worker.wait_exit(), 1);
    EXPECT_TRUE(worker.wait_for_err_text("which is not the protocol"));
    // Everything the worker sent, up to its close.
    std::string got;
    char chunk[4096];
    while (const size_t n = netutil::read_some(manager.get(), chunk, sizeof chunk)) got.append(chunk, n);
    const auto canvas = mandelbrot::parse_canvas_line(canvas_line);
    ASSERT_TRUE(canvas);
    std::string expected = std::string(mandelbrot::kHello) + "\n";
    for (int k = 0; k < 5; ++k) expected += pixels_for(*canvas, k);
    expected += "error: unexpected \"nonsense\"\n";
    EXPECT_EQ(got, expected);
}

// A worker lost with K columns out (the dynamic schedule: it owns no others): all K go to the other worker,
// and the picture is still identical to --local's.
TEST(Lab09Mandelbrot, WorkerLostWithColumnsAheadLosesNothing) {
    TempDir dir;
    const Reference reference = local_reference(dir, kSmall);
    Process server(
        with({kServer, "0", "2", "--schedule", "dynamic", "--prefetch", "4", "-o", dir.file("lost.pgm")}, kSmall));
    const uint16_t port = server.wait_for_listening();
    Connection fake(port);
    const auto canvas = say_hello(fake);
    ASSERT_TRUE(canvas);
    Process steady(worker_args(port, {"--delay-ms", "5"}), {.name = "steady worker"});
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(read_column(fake, *canvas)) << "column " << i << " of 4";
    fake.close();
    ASSERT_TRUE(server.wait_for_line("worker 0 lost (connection closed): 4 unfinished columns go to the other workers",
                                     scaled(10s)));
    EXPECT_EQ(steady.wait_exit(scaled(30s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    server.wait_output_closed();
    EXPECT_EQ(total_line(server.out()), reference.total);
    EXPECT_EQ(read_file(dir.file("lost.pgm")), reference.pgm);
    EXPECT_TRUE(server.wait_for_match(std::regex("worker 1: 120 columns, .*")));
}

TEST(Lab09Mandelbrot, PrefetchUsageErrorsExit2) {
    worker_helpers::expect_usage_errors(kServer, {{"--prefetch", "0"}, {"--prefetch", "x"}, {"--prefetch", "65"}},
                                        {"--prefetch", "round trip"});
}
