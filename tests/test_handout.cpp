// tests/test_handout.cpp: tools/handout.py, the solution markers of the assignments and the student handout
// made from them. `check` passes on the kit and names file and line of every bad marker; `write` puts each
// region's stub (or the default `netutil::not_implemented`) in its place, or keeps the solutions without
// markers; the kit's handout holds no marker, no solution region and none of the instructor's folders.
//
// Slides: none; ASSIGNMENTS.md (the students' side) and README.md "For instructors" (make handout).
#include "harness.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kRoot = LABKIT_SOURCE_ROOT;
const std::string kTool = (kRoot / "tools" / "handout.py").string();

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

// A small tree of its own: the assignments 01.1 and 01.2, and one source file, 01_x/a.cpp.
class Tree {
public:
    Tree() : root_(fs::temp_directory_path() / ("handout-test-" + std::to_string(::getpid()) + "-" + next())) {
        write_file(root_ / "grading" / "assignments.txt",
                   "01.1 01_mtserver \"the flag\"\n01.2 01_mtserver \"the stop\"\n");
    }
    ~Tree() { fs::remove_all(root_); }
    const fs::path& root() const { return root_; }
    harness::Result tool(const std::string& source, std::vector<std::string> args) const {
        write_file(root_ / "01_x" / "a.cpp", source);
        std::vector<std::string> argv = {"/usr/bin/env", "python3", kTool, "--root", root_.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return harness::run(argv, "", 30s);
    }

private:
    static std::string next() {
        static int count = 0;
        return std::to_string(++count);
    }
    fs::path root_;
};

}  // namespace

TEST(Handout, CheckPassesOnTheKit) {
    const auto result = harness::run({"/usr/bin/env", "python3", kTool, "check"}, "", 60s);
    EXPECT_EQ(result.status, 0) << result.out << result.err;
}

TEST(Handout, CheckNamesTheFileAndLineOfEveryBadMarker) {
    const Tree tree;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"// BEGIN SOLUTION 01.1 \"x\"\nint a;\n", "01_x/a.cpp:1: BEGIN SOLUTION 01.1 is never closed"},
        {"int a;\n// END SOLUTION\n", "01_x/a.cpp:2: END SOLUTION without a BEGIN SOLUTION"},
        {"// BEGIN SOLUTION 01.1 \"x\"\n  // BEGIN SOLUTION 01.2 \"y\"\n// END SOLUTION\n// END SOLUTION\n",
         "01_x/a.cpp:2: BEGIN SOLUTION nested in the region 01.1"},
        {"// BEGIN SOLUTION 07.9 \"x\"\n// END SOLUTION\n", "01_x/a.cpp:1: unknown assignment 07.9"},
        {"// BEGIN SOLUTION 01.1 \"x\"\n// END SOLUTION\n\n// BEGIN STUB\n// END STUB\n",
         "01_x/a.cpp:4: BEGIN STUB must be on the line right after an END SOLUTION"},
        {"// BEGIN SOLUTION 01.1 \"x\"\n// END SOLUTION\n// BEGIN STUB\nint b;\n// END STUB\n",
         "01_x/a.cpp:4: a STUB line must be a comment"},
        {"// END STUB\n", "01_x/a.cpp:1: END STUB without a BEGIN STUB"},
    };
    for (const auto& [source, message] : cases) {
        const auto result = tree.tool(source, {"check"});
        EXPECT_EQ(result.status, 1) << source;
        EXPECT_EQ(result.err.rfind(message, 0), 0u) << "for:\n" << source << "got: " << result.err;
    }
}

TEST(Handout, WriteReplacesEachRegionByItsStubOrKeepsTheSolutionWithoutMarkers) {
    const Tree tree;
    const std::string source =
        "void f(int x) {\n"
        "    // BEGIN SOLUTION 01.1 \"x\"\n"
        "    use(x);\n"
        "    // END SOLUTION\n"
        "    // BEGIN STUB\n"
        "    // // TODO: use x\n"
        "    // (void)x;\n"
        "    // END STUB\n"
        "}\n"
        "void g() {\n"
        "    // BEGIN SOLUTION 01.2 \"y\"\n"
        "    stop();\n"
        "    // END SOLUTION\n"
        "}\n";
    const fs::path out = tree.root() / "build" / "handout";
    auto result = tree.tool(source, {"write", out.string()});
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(read_file(out / "01_x" / "a.cpp"),
              "void f(int x) {\n    // TODO: use x\n    (void)x;\n}\n"
              "void g() {\n    netutil::not_implemented(\"01.2\");\n}\n");
    EXPECT_TRUE(fs::exists(out / ".github" / "workflows" / "classroom.yml"));

    result = tree.tool(source, {"write", out.string(), "--keep-solutions"});
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(read_file(out / "01_x" / "a.cpp"), "void f(int x) {\n    use(x);\n}\nvoid g() {\n    stop();\n}\n");
}

TEST(Handout, TheKitsHandoutHasAStubForEveryAssignmentAndNothingOfTheInstructors) {
    const fs::path out = fs::temp_directory_path() / ("handout-kit-" + std::to_string(::getpid()));
    const auto result = harness::run({"/usr/bin/env", "python3", kTool, "write", out.string()}, "", 120s);
    ASSERT_EQ(result.status, 0) << result.err;
    for (const char* absent : {"tests", "bench", "fuzz", "docs", "tools", ".ci", "grading/hidden", "grading/known_bad",
                               "grading/reference", "grading/check.py"})
        EXPECT_FALSE(fs::exists(out / absent)) << absent;
    for (const char* present : {"Makefile", "mk/lab.mk", "netutil/error.cpp", "ASSIGNMENTS.md", "README.md",
                                "grading/assignments.txt", ".github/workflows/classroom.yml", ".gitignore"})
        EXPECT_TRUE(fs::exists(out / present)) << present;
    std::string stubs;
    for (const auto& entry : fs::recursive_directory_iterator(out)) {
        if (!entry.is_regular_file()) continue;
        const std::string text = read_file(entry.path());
        EXPECT_EQ(text.find("BEGIN SOLUTION"), std::string::npos) << entry.path();
        EXPECT_EQ(text.find("END STUB"), std::string::npos) << entry.path();
        for (size_t at = text.find("not_implemented(\""); at != std::string::npos;
             at = text.find("not_implemented(\"", at + 1))
            stubs += text.substr(at + 17, 4) + " ";
    }
    EXPECT_EQ(read_file(out / "README.md").find("For instructors"), std::string::npos);
    std::istringstream listing(read_file(kRoot / "grading" / "assignments.txt"));
    for (std::string line; std::getline(listing, line);) {
        if (line.empty() || line[0] == '#') continue;
        EXPECT_NE(stubs.find(line.substr(0, 4)), std::string::npos) << "no stub for assignment " << line;
    }
    fs::remove_all(out);
}
