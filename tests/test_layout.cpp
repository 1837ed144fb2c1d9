// tests/test_layout.cpp: the kit's C++ files keep one layout, the one `.clang-format` describes (120 columns),
// so a lab file reads the same in an editor, a terminal and a printed handout.
//
// Slides: none; the style card (STYLE.md) and `make format`, which applies `.clang-format` to every file.
#include "harness.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kRoot = LABKIT_SOURCE_ROOT;

// Every C++ source of the kit: the labs, netutil, the tests and the fuzz targets (never build outputs).
std::vector<fs::path> cxx_files() {
    std::vector<fs::path> files;
    for (const auto& top : fs::directory_iterator(kRoot)) {
        const std::string name = top.path().filename().string();
        if (!top.is_directory() || name == "build" || name.starts_with(".")) continue;
        for (const auto& entry : fs::recursive_directory_iterator(top.path())) {
            const auto ext = entry.path().extension();
            if (entry.is_regular_file() && (ext == ".cpp" || ext == ".hpp")) files.push_back(entry.path());
        }
    }
    return files;
}

// Columns of a UTF-8 line: one per character (every character the kit uses is one column wide).
size_t columns(const std::string& line) {
    size_t count = 0;
    for (const unsigned char c : line)
        if ((c & 0xC0) != 0x80) ++count;
    return count;
}

TEST(Layout, TheKitHasCxxFilesToCheck) {
    const auto files = cxx_files();
    EXPECT_GT(files.size(), 50u) << "the walk of " << kRoot << " found too few files to check";
}

TEST(Layout, NoLineIsOver120Columns) {
    std::string over;
    for (const auto& file : cxx_files()) {
        std::ifstream in(file);
        std::string line;
        for (int number = 1; std::getline(in, line); ++number)
            if (columns(line) > 120)
                over += fs::relative(file, kRoot).string() + ":" + std::to_string(number) + " (" +
                        std::to_string(columns(line)) + " columns)\n";
    }
    EXPECT_EQ(over, "") << "lines over 120 columns (wrap them; `make format` wraps code, not comments or strings)";
}

TEST(Layout, EveryFileIsAsClangFormatLaysItOut) {
    const auto which = harness::run({"/bin/sh", "-c", "command -v clang-format"});
    if (which.status != 0) GTEST_SKIP() << "clang-format is not installed (mk/deps.sh format installs it)";
    std::vector<std::string> argv = {which.out.substr(0, which.out.find('\n')), "--style=file", "--dry-run", "-Werror"};
    for (const auto& file : cxx_files()) argv.push_back(file.string());
    const auto result = harness::run(argv, "", 120s);
    // Each place it would change is a warning naming the file: `PATH:LINE:COL: error: code should be ...`.
    std::string differ;
    std::istringstream warnings(result.err);
    for (std::string line; std::getline(warnings, line);)
        if (line.find("code should be clang-formatted") != std::string::npos) differ += line + "\n";
    EXPECT_EQ(result.status, 0) << "clang-format would change these places (run `make format`):\n"
                                << (differ.empty() ? result.err : differ);
}
}  // namespace
