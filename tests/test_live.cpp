// `make live LAB=...` (mk/live.sh): the tmux session with the server and each client in its own pane,
// driven here as a user would, with tmux send-keys, and read back with capture-pane.
//
// Slides: the multi-terminal demos of every lab README, one pane per terminal.
#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <unistd.h>

using namespace harness;

namespace {

const std::string kSocket = "labkit-test-" + std::to_string(::getpid());  // a tmux server of our own

Result tmux(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "tmux", "-L", kSocket});
    return run(args);
}

// Waits until the pane shows `text`, polling capture-pane (tmux has no way to wait for output).
bool pane_shows(const std::string& pane, const std::string& text, Duration timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    std::string screen;
    while (std::chrono::steady_clock::now() < deadline) {
        screen = tmux({"capture-pane", "-p", "-t", pane}).out;
        if (screen.find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "pane " << pane << " never showed \"" << text << "\"; it shows:\n" << screen;
    return false;
}

bool release_build() {
    const char* variant = std::getenv("LABKIT_VARIANT");
    return variant == nullptr || std::string(variant) == "release";
}

class Live : public ::testing::Test {
protected:
    void SetUp() override {
        if (!release_build()) GTEST_SKIP() << "make live runs the normal build's programs";
    }
    void TearDown() override { tmux({"kill-server"}); }

    Result start(const std::string& lab, const std::string& session) {
        return run({LABKIT_SOURCE_ROOT "/mk/live.sh", lab}, "", 30s,
                   {.env = {"LIVE_TMUX_SOCKET=" + kSocket, "LIVE_ATTACH=0", "LIVE_SESSION=" + session}});
    }
};

// Every lab folder with a live.conf (the labs `make live` knows how to lay out).
std::vector<std::string> labs_with_live_conf() {
    std::vector<std::string> labs;
    for (const auto& entry : std::filesystem::directory_iterator(LABKIT_SOURCE_ROOT))
        if (std::filesystem::exists(entry.path() / "live.conf")) labs.push_back(entry.path().filename().string());
    std::sort(labs.begin(), labs.end());
    return labs;
}

// A variable of LAB/live.conf, as mk/live.sh sees it.
std::string live_setting(const std::string& lab, const std::string& name) {
    const Result shell =
        run({"/bin/bash", "-c", "source '" LABKIT_SOURCE_ROOT "/" + lab + "/live.conf'; printf %s \"$" + name + "\""});
    return shell.out;
}

class LiveLab : public Live, public ::testing::WithParamInterface<std::string> {};

}  // namespace

// For every lab: the server pane shows its listening line, and every client pane gets ready.
TEST_P(LiveLab, ServerAndEveryClientPaneComeUp) {
    const std::string lab = GetParam();
    const std::string expect = live_setting(lab, "LIVE_EXPECT");
    const int clients = std::stoi(live_setting(lab, "LIVE_CLIENTS"));
    ASSERT_FALSE(expect.empty()) << lab << "/live.conf sets no LIVE_EXPECT";
    const Result live = start(lab, "lab");
    ASSERT_EQ(live.status, 0) << live.err;
    ASSERT_TRUE(pane_shows("lab:0.0", "listening on "));
    for (int pane = 1; pane <= clients; ++pane) EXPECT_TRUE(pane_shows("lab:0." + std::to_string(pane), expect));
}

INSTANTIATE_TEST_SUITE_P(Labs, LiveLab, ::testing::ValuesIn(labs_with_live_conf()),
                         [](const auto& info) { return info.param; });

TEST_F(Live, OpensTheServerAndThreeClientsReadyToTypeInto) {
    const Result live = start("01_mtserver", "live-test");
    ASSERT_EQ(live.status, 0) << live.err;
    EXPECT_NE(live.out.find("3 clients"), std::string::npos) << live.out;
    ASSERT_TRUE(pane_shows("live-test:0.0", "server starts 3 threads"));
    for (const std::string pane : {"live-test:0.1", "live-test:0.2", "live-test:0.3"})
        ASSERT_TRUE(pane_shows(pane, "Give message :"));  // capture-pane drops trailing blanks
    // As on the slide: the first client types last.
    tmux({"send-keys", "-t", "live-test:0.2", "this is B", "Enter"});
    tmux({"send-keys", "-t", "live-test:0.3", "this is C", "Enter"});
    ASSERT_TRUE(pane_shows("live-test:0.0", "received this is C"));
    tmux({"send-keys", "-t", "live-test:0.1", "this is A", "Enter"});
    ASSERT_TRUE(pane_shows("live-test:0.0", "received this is A"));
    EXPECT_TRUE(pane_shows("live-test:0.0", "received this is B"));
    EXPECT_TRUE(pane_shows("live-test:0.1", "Give message : this is A"));
}

// The hint's restart (07: "restart the server with --mode poll"): the session chose the port once and the
// hint's command reuses it, so after Ctrl-C and that command in the server pane, a client run again in its
// pane connects and is echoed (with a new port it would get "Connection refused").
TEST_F(Live, RestartingTheServerWithTheHintsCommandKeepsTheClientPanesWorking) {
    const Result live = start("07_epoll", "restart");
    ASSERT_EQ(live.status, 0) << live.err;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(live.out, match, std::regex("server on port (\\d+),"))) << live.out;
    const std::string port = match[1];
    const std::regex hint("to restart the server on the same port: Ctrl-C, then `([^`]+)`");
    ASSERT_TRUE(std::regex_search(live.out, match, hint)) << live.out;
    const std::string restart = match[1];
    ASSERT_TRUE(pane_shows("restart:0.0", "listening on [::]:" + port));
    ASSERT_TRUE(pane_shows("restart:0.1", "Give message :"));
    tmux({"send-keys", "-t", "restart:0.0", "C-c"});
    ASSERT_TRUE(pane_shows("restart:0.0", "server stopped by SIGINT", 30s));  // after --grace for the connected panes
    tmux({"send-keys", "-t", "restart:0.0", restart, "Enter"});
    ASSERT_TRUE(pane_shows("restart:0.0", "mode poll:"));
    // The client of pane 1 was connected to the first server: its next line finds the connection closed.
    // Run again in its pane, it reaches the new server.
    tmux({"send-keys", "-t", "restart:0.1", "before", "Enter"});
    ASSERT_TRUE(pane_shows("restart:0.1", "the server closed the connection"));
    std::string client = live_setting("07_epoll", "LIVE_CLIENT");
    client.replace(client.find("PORT"), 4, port);
    tmux({"send-keys", "-t", "restart:0.1", client, "Enter"});
    tmux({"send-keys", "-t", "restart:0.1", "after restart", "Enter"});
    EXPECT_TRUE(pane_shows("restart:0.1", "echo: after restart"));
    EXPECT_TRUE(pane_shows("restart:0.0", "read 14 bytes, echoed 14"));
}

TEST_F(Live, AnUnknownLabIsAUsageError) {
    const Result live = run({LABKIT_SOURCE_ROOT "/mk/live.sh", "99_nothing"}, "", 10s,
                            {.env = {"LIVE_TMUX_SOCKET=" + kSocket, "LIVE_ATTACH=0"}});
    EXPECT_EQ(live.status, 2);
    EXPECT_NE(live.err.find("usage: make live LAB="), std::string::npos) << live.err;
}
