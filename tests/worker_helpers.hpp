// tests/worker_helpers.hpp: what the tests of the manager/worker labs (test_09_mandelbrot, test_10_pi_montecarlo)
// and their fault suite (test_faults_workers) do alike: command lines, a whole run with real workers, a
// manager played by the test against the real worker, a worker waiting for a manager that is not there yet,
// a manager stopped by a signal mid-run, usage errors. What each lab's run prints stays in its own tests.
#pragma once

#include "tests/harness.hpp"

#include "netutil/io.hpp"
#include "netutil/socket.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace worker_helpers {

using namespace harness;

// `argv` followed by `more`.
inline std::vector<std::string> with(std::vector<std::string> argv, const std::vector<std::string>& more) {
    argv.insert(argv.end(), more.begin(), more.end());
    return argv;
}

// A worker (`client`, a lab's ./client) of the manager on `port`.
inline std::vector<std::string> worker_argv(const std::string& client, uint16_t port,
                                            const std::vector<std::string>& more = {}) {
    return with({client, "localhost", std::to_string(port)}, more);
}

// Runs the manager `manager` (a command line on port 0) with `nworkers` real workers (`client`): every worker
// must end at the manager's BYE with status 0, and the manager with status 0. Returns the manager's output.
inline std::string run_with_workers(const std::vector<std::string>& manager, const std::string& client, int nworkers) {
    Process server(manager);
    const uint16_t port = server.wait_for_listening();
    std::vector<std::unique_ptr<Process>> workers;
    for (int i = 0; i < nworkers; ++i)
        workers.push_back(
            std::make_unique<Process>(worker_argv(client, port), Options{.name = "worker " + std::to_string(i)}));
    for (auto& worker : workers) {
        EXPECT_EQ(worker->wait_exit(scaled(30s)), 0);
        EXPECT_TRUE(worker->wait_for_text("manager says BYE: "));
    }
    EXPECT_EQ(server.wait_exit(scaled(30s)), 0);
    server.wait_output_closed();
    return server.out();
}

// The test plays the manager: the worker (`client`) must say `hello`, then refuse `bad` with status 1
// ("which is not the protocol" on stderr) and tell the manager why ("error: unexpected ...").
inline void expect_worker_rejects(const std::string& client, const std::string& hello, const std::string& bad) {
    SCOPED_TRACE(bad);
    const netutil::UniqueFd listener = netutil::tcp_listen("127.0.0.1", 0);
    const uint16_t port = netutil::local_address(listener.get()).port();
    Process worker(worker_argv(client, port));
    ASSERT_EQ(netutil::wait_readable(listener.get(), -1, static_cast<int>(scaled(10s).count())), netutil::Wait::Ready)
        << "the worker did not connect";
    const netutil::UniqueFd connection = netutil::accept_client(listener.get());
    ASSERT_TRUE(connection);
    netutil::LineReader reader(connection.get(), 200, -1, static_cast<int>(scaled(5s).count()));
    std::string line;
    ASSERT_EQ(reader.read_line(line), netutil::LineReader::Status::Line);
    EXPECT_EQ(line, hello);
    netutil::write_all(connection.get(), bad + "\n");
    EXPECT_EQ(worker.wait_exit(), 1);
    EXPECT_TRUE(worker.wait_for_err_text("which is not the protocol"));
    ASSERT_EQ(reader.read_line(line), netutil::LineReader::Status::Line);
    EXPECT_EQ(line.rfind("error: unexpected", 0), 0u) << line;
}

// The end of a parade of bad peers at the manager `server` (on `port`, waiting for one worker): a connection
// that closes without a word is turned away too, none of them counted as a worker, and then one real worker
// (`client`) does the whole run: both exit 0.
inline void expect_silent_peer_then_one_worker(Process& server, uint16_t port, const std::string& client) {
    {
        Connection silent(port);
        silent.close();
        ASSERT_TRUE(server.wait_for_text(": closed without saying HELLO"));
    }
    EXPECT_EQ(server.count_matching(std::regex("worker \\d+ connected from .*")), 0u)
        << "a bad peer counted as a worker";
    Process worker(worker_argv(client, port));
    EXPECT_EQ(worker.wait_exit(scaled(20s)), 0);
    EXPECT_EQ(server.wait_exit(scaled(20s)), 0);
}

// A port no manager listens on now: a manager's (`server` on port 0, one worker), stopped at once.
inline uint16_t free_manager_port(const std::string& server) {
    Process probe({server, "0", "1"});
    const uint16_t port = probe.wait_for_listening();
    probe.signal(SIGTERM);
    EXPECT_EQ(probe.wait_exit(), 0);
    return port;
}

// A worker (`client`) started on `port` before its manager: it says it retries (for 20 s) and waits.
inline std::unique_ptr<Process> early_worker(const std::string& client, uint16_t port) {
    auto early =
        std::make_unique<Process>(worker_argv(client, port, {"--retry", "20"}), Options{.name = "early worker"});
    EXPECT_TRUE(early->wait_for_line("manager not there yet: retrying for 20 s"));
    return early;
}

// Two workers (`client`, each with --delay-ms `delay_ms` and --verbose) work for the manager `manager` (a
// command line for two workers on port 0); once the first is at work (a line matching `working`), `signo`
// goes to the manager, or to its process group when `to_group` (as a terminal sends Ctrl-C or SIGHUP). The
// manager must exit 0 within seconds with nothing of its group left and a line matching `summary`; both
// workers see the connection close and exit 0.
inline void expect_stopped_mid_run(const std::vector<std::string>& manager, const std::string& client,
                                   const std::string& delay_ms, const std::regex& working, int signo, bool to_group,
                                   const std::regex& summary) {
    Process server(manager);
    const uint16_t port = server.wait_for_listening();
    Process a(worker_argv(client, port, {"--delay-ms", delay_ms, "--verbose"}), {.name = "worker A"});
    Process b(worker_argv(client, port, {"--delay-ms", delay_ms, "--verbose"}), {.name = "worker B"});
    ASSERT_TRUE(a.wait_for_match(working, scaled(10s)));
    if (to_group)
        server.signal_group(signo);
    else
        server.signal(signo);
    EXPECT_EQ(server.wait_exit(scaled(5s)), 0);
    EXPECT_TRUE(group_gone(server.pid()));
    EXPECT_TRUE(server.wait_for_match(summary));
    EXPECT_EQ(a.wait_exit(scaled(5s)), 0);
    EXPECT_EQ(b.wait_exit(scaled(5s)), 0);
    EXPECT_TRUE(a.wait_for_text("manager closed the connection: "));
}

// Each of `bad` (arguments of `server`) is a usage error: status 2, one line on stderr. `--help` exits 0
// and names every one of `help_words`.
inline void expect_usage_errors(const std::string& server, const std::vector<std::vector<std::string>>& bad,
                                const std::vector<std::string>& help_words) {
    for (const auto& args : bad) {
        const Result result = run(with({server}, args));
        EXPECT_EQ(result.status, 2) << args[0];
        EXPECT_EQ(lines(result.err).size(), 1u) << result.err;
    }
    const Result help = run({server, "--help"});
    EXPECT_EQ(help.status, 0);
    for (const auto& word : help_words) EXPECT_NE(help.out.find(word), std::string::npos) << word;
}

}  // namespace worker_helpers
