// Tests of the Open MPI versions of labs 09_mandelbrot and 10_pi_montecarlo (mpi.cpp in each lab), run as a
// user runs them: `mpirun -np K ./mpi ...`, compared with the socket labs' own reference, `./server --local`.
//
// Slides: the lecture "Multithreaded Servers" (lecture 32), slides "The Mandelbrot Set", "Manager/Worker
// Paradigm" and "Summary + Assignments" (assignment 3: pi with a job queue of (samples, seed) tuples); the
// same results with MPI, the tool users reach for past one machine.
// Suites: Lab09/MpiMandelbrot (the picture for 2 and 3 ranks, both schedules), Lab10/MpiPi (the estimate),
// Lab09/MpiUsage and Lab10/MpiUsage (one rank is refused), Lab10MpiUsage (a usage error from rank 0 only).
// Demo: mpirun --allow-run-as-root --oversubscribe -np 3 ./mpi (in either lab), then ./server --local.
// What to watch for: the MPI picture is byte for byte `--local`'s for 2 and 3 ranks (1 and 2 workers) and
// both schedules; the MPI estimate line is `--local`'s; fewer than 2 ranks is refused.
//
// Skipped, with the reason, when mpirun is not installed (mk/deps.sh installs Open MPI) and in the sanitizer
// builds, where ./mpi is not built (the sanitizers would report Open MPI's own leaks and threads).
#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

using namespace harness;

namespace {

// mpirun's full path from PATH (the harness starts programs by path), or "" when it is not installed.
std::string find_mpirun() {
    std::istringstream path(std::getenv("PATH") != nullptr ? std::getenv("PATH") : "");
    for (std::string dir; std::getline(path, dir, ':');)
        if (!dir.empty() && ::access((dir + "/mpirun").c_str(), X_OK) == 0) return dir + "/mpirun";
    return "";
}

// The reason to skip, or "" when the MPI programs can run.
std::string skip_reason(const std::string& lab) {
    const char* variant = std::getenv("LABKIT_VARIANT");
    if (variant != nullptr && std::string(variant) != "release")
        return std::string("the MPI programs are built only in the release build, not in ") + variant +
               " (the sanitizers would report Open MPI's own allocations and threads)";
    if (find_mpirun().empty())
        return "mpirun is not installed (mk/deps.sh installs Open MPI: libopenmpi-dev, openmpi-bin)";
    if (::access(program(lab, "mpi").c_str(), X_OK) != 0)
        return program(lab, "mpi") + " is not built (the lab builds it only when mpicxx is installed)";
    return "";
}

#define SKIP_WITHOUT_MPI(lab)                                                            \
    do {                                                                                 \
        if (const std::string why = skip_reason(lab); !why.empty()) GTEST_SKIP() << why; \
    } while (false)

// The README's command line: root is allowed (CI runs as root), more ranks than cores are allowed, and
// Open MPI's single-copy shared memory (CMA), which sandboxes such as gVisor refuse, is not used.
std::vector<std::string> mpirun(int ranks, const std::string& lab, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        find_mpirun(), "--allow-run-as-root", "--oversubscribe",  "--mca", "btl_vader_single_copy_mechanism", "none",
        "-np",         std::to_string(ranks), program(lab, "mpi")};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

// A fresh directory for the pictures, removed with what is in it.
class TempDir {
public:
    TempDir() {
        char name[] = "/tmp/labkit-mpi-XXXXXX";
        if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = name;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

std::string first_match(const std::string& text, const std::string& pattern) {
    std::smatch match;
    return std::regex_search(text, match, std::regex(pattern)) ? match[0].str() : "missing";
}

// ---- 09_mandelbrot: the picture -------------------------------------------------------------------------

const std::vector<std::string> kCanvas = {"--width", "120", "--height", "96"};

struct MandelbrotCase {
    int ranks;
    std::string schedule;
};
void PrintTo(const MandelbrotCase& c, std::ostream* os) { *os << c.ranks << " ranks, " << c.schedule; }

class MpiMandelbrot : public ::testing::TestWithParam<MandelbrotCase> {};

TEST_P(MpiMandelbrot, PictureIsByteIdenticalToLocal) {
    SKIP_WITHOUT_MPI("09_mandelbrot");
    const auto [ranks, schedule] = GetParam();
    TempDir dir;
    std::vector<std::string> local_args = {program("09_mandelbrot", "server"), "--local", "-o",
                                           dir.path() + "/local.pgm"};
    local_args.insert(local_args.end(), kCanvas.begin(), kCanvas.end());
    const Result local = run(local_args, "", scaled(20s));
    ASSERT_EQ(local.status, 0) << local.err;

    std::vector<std::string> args = {"--schedule", schedule, "-o", dir.path() + "/mpi.pgm"};
    args.insert(args.end(), kCanvas.begin(), kCanvas.end());
    const Result mpi = run(mpirun(ranks, "09_mandelbrot", args), "", scaled(30s));
    ASSERT_EQ(mpi.status, 0) << mpi.out << mpi.err;
    EXPECT_NE(mpi.out.find("with " + std::string(ranks == 2 ? "1 worker (rank 1)" : "2 workers (ranks 1 to 2)")),
              std::string::npos)
        << mpi.out;
    EXPECT_NE(mpi.out.find(schedule + " schedule"), std::string::npos) << mpi.out;
    EXPECT_EQ(first_match(mpi.out, "total iterations \\d+"), first_match(local.out, "total iterations \\d+"));
    // Every worker did columns: static gives each 120 / n of them.
    for (int t = 0; t < ranks - 1; ++t) {
        const std::string line = first_match(mpi.out, "worker " + std::to_string(t) + ": \\d+ columns");
        EXPECT_NE(line, "missing") << mpi.out;
        if (schedule == "static") {
            EXPECT_EQ(line, "worker " + std::to_string(t) + ": " + std::to_string(120 / (ranks - 1)) + " columns");
        }
    }
    const std::string expected = file_bytes(dir.path() + "/local.pgm");
    ASSERT_EQ(expected.rfind("P5\n120 96\n255\n", 0), 0u);
    EXPECT_TRUE(file_bytes(dir.path() + "/mpi.pgm") == expected) << "the MPI picture differs from --local's";
}

INSTANTIATE_TEST_SUITE_P(Lab09, MpiMandelbrot,
                         ::testing::Values(MandelbrotCase{2, "static"}, MandelbrotCase{2, "dynamic"},
                                           MandelbrotCase{3, "static"}, MandelbrotCase{3, "dynamic"}),
                         [](const auto& info) {
                             return std::to_string(info.param.ranks) + "ranks_" + info.param.schedule;
                         });

// ---- 10_pi_montecarlo: the estimate ---------------------------------------------------------------------

const std::vector<std::string> kJobs = {"--jobs", "6", "--samples", "200000", "--seed", "42"};

class MpiPi : public ::testing::TestWithParam<int> {};

TEST_P(MpiPi, EstimateEqualsLocal) {
    SKIP_WITHOUT_MPI("10_pi_montecarlo");
    const int ranks = GetParam();
    std::vector<std::string> local_args = {program("10_pi_montecarlo", "server"), "--local"};
    local_args.insert(local_args.end(), kJobs.begin(), kJobs.end());
    const Result local = run(local_args, "", scaled(20s));
    ASSERT_EQ(local.status, 0) << local.err;
    const Result mpi = run(mpirun(ranks, "10_pi_montecarlo", kJobs), "", scaled(30s));
    ASSERT_EQ(mpi.status, 0) << mpi.out << mpi.err;
    const std::string estimate = first_match(local.out, "estimate of pi [^\n]*");
    ASSERT_NE(estimate, "missing") << local.out;
    EXPECT_EQ(first_match(mpi.out, "estimate of pi [^\n]*"), estimate) << mpi.out;
    // Each job is reported once, by some worker, with --local's count.
    for (int j = 0; j < 6; ++j) {
        const std::string prefix =
            "job " + std::to_string(j) + " \\(200000 samples, seed " + std::to_string(42 + j) + "\\) ";
        const std::string local_count = first_match(local.out, prefix + "local: \\d+ inside");
        const std::string mpi_count = first_match(mpi.out, prefix + "by worker \\d+: \\d+ inside");
        ASSERT_NE(mpi_count, "missing") << mpi.out;
        EXPECT_EQ(first_match(mpi_count, "\\d+ inside"), first_match(local_count, "\\d+ inside"));
    }
    const auto out_lines = lines(mpi.out);
    EXPECT_EQ(
        std::count_if(out_lines.begin(), out_lines.end(), [](const std::string& l) { return l.rfind("job ", 0) == 0; }),
        6)
        << mpi.out;
}

INSTANTIATE_TEST_SUITE_P(Lab10, MpiPi, ::testing::Values(2, 3),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

// ---- Both: a manager needs a worker -----------------------------------------------------------------------

class MpiUsage : public ::testing::TestWithParam<std::string> {};

TEST_P(MpiUsage, OneRankIsRefused) {
    const std::string lab = GetParam();
    SKIP_WITHOUT_MPI(lab);
    const Result one = run(mpirun(1, lab, {}), "", scaled(30s));
    EXPECT_NE(one.status, 0) << lab;
    EXPECT_NE(one.err.find("needs at least 2 processes"), std::string::npos) << lab << ": " << one.err;
}

INSTANTIATE_TEST_SUITE_P(Lab09, MpiUsage, ::testing::Values("09_mandelbrot"), [](const auto&) { return "mpi"; });
INSTANTIATE_TEST_SUITE_P(Lab10, MpiUsage, ::testing::Values("10_pi_montecarlo"), [](const auto&) { return "mpi"; });

TEST(Lab10MpiUsage, BadOptionIsOneUsageErrorFromRankZero) {
    SKIP_WITHOUT_MPI("10_pi_montecarlo");
    const Result bad = run(mpirun(3, "10_pi_montecarlo", {"--jobs", "0"}), "", scaled(30s));
    EXPECT_NE(bad.status, 0);
    // The ranks other than 0 stay quiet: one line, not three.
    const std::string message = "--jobs: '0' is not a whole number from 1 to 1000000";
    const auto first = bad.err.find(message);
    ASSERT_NE(first, std::string::npos) << bad.err;
    EXPECT_EQ(bad.err.find(message, first + 1), std::string::npos) << bad.err;
}

}  // namespace
