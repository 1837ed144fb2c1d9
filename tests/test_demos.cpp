// tests/test_demos.cpp: `make demo`, the kit's main job, plays every lab's demo.sh; each must run every step
// and exit 0, and a step whose program fails must stop the demo with status 1, naming the lab, the step and
// the program (mk/demo-lib.sh). Under tests/run.sh the release run sees a Debian-style /etc/hosts, where the
// demos' `localhost` is ::1 first: the setting in which their clients once failed while `make demo` said 0.
//
// Slides: every lab's multi-terminal demo (each lab README's "Demo"). Run one lab's: make test LAB=07_epoll.
#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace harness;
namespace fs = std::filesystem;

namespace {

const std::string kRoot = LABKIT_SOURCE_ROOT;

std::vector<std::string> labs_with_demos() {
    std::vector<std::string> labs;
    for (const auto& entry : fs::directory_iterator(kRoot)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 3 && std::isdigit(name[0]) && std::isdigit(name[1]) && name[2] == '_' &&
            fs::exists(entry.path() / "demo.sh"))
            labs.push_back(name);
    }
    std::sort(labs.begin(), labs.end());
    return labs;
}

class Demo : public ::testing::TestWithParam<std::string> {};

TEST_P(Demo, RunsEveryStepAndExitsZero) {
    if (sanitized()) GTEST_SKIP() << "the demos are played with the release build (as `make demo` does)";
    const std::string lab = GetParam();
    Options options;
    options.cwd = kRoot;
    options.env = {"DEMO_BIN=" + fs::path(program(lab, "server")).parent_path().string()};
    const Result result = run({"/bin/bash", kRoot + "/" + lab + "/demo.sh"}, "", 180s, options);
    EXPECT_EQ(result.status, 0) << "stderr:\n"
                                << result.err << "\nstdout (last 3000 bytes):\n"
                                << result.out.substr(result.out.size() > 3000 ? result.out.size() - 3000 : 0);
    EXPECT_EQ(result.err.find("demo: " + lab), std::string::npos) << result.err;
    EXPECT_NE(result.out.find("== "), std::string::npos) << "no step was played";
}

INSTANTIATE_TEST_SUITE_P(EveryLab, Demo, ::testing::ValuesIn(labs_with_demos()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// A made-up lab whose demo uses mk/demo-lib.sh like the real ones, with a `client` that fails.
class BrokenDemo : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("labkit-demo-" + std::to_string(::getpid()));
        fs::create_directories(dir_ / "42_broken");
        std::ofstream(dir_ / "42_broken" / "client") << "#!/bin/sh\necho \"client says $*\"\nexit 3\n";
        fs::permissions(dir_ / "42_broken" / "client", fs::perms::owner_all);
    }
    void TearDown() override { fs::remove_all(dir_); }

    Result play(const std::string& body) {
        const fs::path script = dir_ / "42_broken" / "demo.sh";
        std::ofstream(script) << "source '" << kRoot << "/mk/demo-lib.sh'\n" << body;
        Options options;
        options.cwd = (dir_ / "42_broken").string();
        return run({"/bin/bash", script.string()}, "", 30s, options);
    }

    fs::path dir_;
};

TEST_F(BrokenDemo, AFailingProgramStopsTheDemoAtTheNextStepNamingLabStepAndProgram) {
    const Result result = play(
        "demo_heading 'first step'\n"
        "demo_run client ./client localhost 4242 --message 'this is A'\n"
        "demo_heading 'second step'\n"
        "demo_say 'never shown'\n");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.out.find("$ ./client localhost 4242 --message 'this is A'"), std::string::npos)
        << "the command is shown as it must be typed:\n"
        << result.out;
    EXPECT_NE(
        result.err.find("demo: 42_broken: step \"first step\": client (./client localhost 4242 --message this is A) "
                        "exited with status 3"),
        std::string::npos)
        << result.err;
    EXPECT_EQ(result.out.find("never shown"), std::string::npos) << result.out;
}

TEST_F(BrokenDemo, ABackgroundClientThatFailsFailsTheDemo) {
    const Result result = play(
        "demo_heading 'clients in the background'\n"
        "demo_client 'client A' '' 0 -- localhost 4242\n"
        "wait\n");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("demo: 42_broken: step \"clients in the background\": client A (./client localhost 4242) "
                              "exited with status 3"),
              std::string::npos)
        << result.err;
}

TEST_F(BrokenDemo, AFailureTheDemoExpectsIsNoFailureButSuccessThereIs) {
    const Result expected = play(
        "demo_heading 'a client that gives up'\n"
        "DEMO_EXPECT_FAIL=1 demo_run client ./client\n");
    EXPECT_EQ(expected.status, 0) << expected.err;
    const Result unexpected = play(
        "demo_heading 'a client that should give up'\n"
        "DEMO_EXPECT_FAIL=1 demo_run client true\n");
    EXPECT_EQ(unexpected.status, 1);
    EXPECT_NE(unexpected.err.find("client (true) exited with status 0, where it should have failed"), std::string::npos)
        << unexpected.err;
}

}  // namespace
