// tests/test_layout.cpp: the kit's C++ files keep one layout, the one `.clang-format` describes (120 columns),
// so a lab file reads the same in an editor, a terminal and a printed handout; and every test the READMEs
// and docs/index.md name by its `LabNN...` name exists, so "slide to code to test" never leads nowhere; and the
// instructor's answer key answers every exercise of every lab README, and every assignment has its hints.
//
// Slides: none; the style card (STYLE.md) and `make format`, which applies `.clang-format` to every file.
#include "harness.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <set>
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
// Whether `text` matches `pattern`, where `*` stands for any run of characters.
bool glob_match(const std::string& pattern, const std::string& text) {
    size_t p = 0, t = 0, star = std::string::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

// Every test's full name (`Lab04/ProcessPool.KillingThe.../flock`), from each test program's own list.
std::set<std::string> every_test_name() {
    std::set<std::string> names;
    const fs::path dir = fs::read_symlink("/proc/self/exe").parent_path();
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with("test_") || name.find('.') != std::string::npos) continue;
        const auto listed = harness::run({entry.path().string(), "--gtest_list_tests"}, "", 30s);
        std::istringstream lines(listed.out);
        std::string suite;
        for (std::string line; std::getline(lines, line);) {
            if (!line.empty() && line[0] != ' ' && line.back() == '.') suite = line.substr(0, line.size() - 1);
            if (line.starts_with("  ") && !suite.empty()) {
                std::istringstream words(line);
                std::string test;
                words >> test;
                names.insert(suite + "." + test);
            }
        }
    }
    return names;
}

TEST(Docs, EveryLabTestTheDocsNameExists) {
    const std::set<std::string> names = every_test_name();
    ASSERT_GT(names.size(), 500u) << "the test programs' lists were not read";
    std::vector<fs::path> docs = {kRoot / "README.md", kRoot / "docs" / "index.md"};
    for (const auto& entry : fs::directory_iterator(kRoot))
        if (fs::exists(entry.path() / "README.md") && entry.path().filename().string().size() > 3 &&
            std::isdigit(static_cast<unsigned char>(entry.path().filename().string()[0])))
            docs.push_back(entry.path() / "README.md");
    // `Lab07/EchoModes.StuckClient.../MODE`: `...` and an upper-case placeholder stand for anything.
    const std::regex reference(R"(Lab\d\d[A-Za-z0-9]*(/[A-Za-z0-9]+)?\.([A-Za-z0-9]+|\*)(\.\.\.)?(/[A-Za-z0-9_*]+)?)");
    std::string unknown;
    size_t checked = 0;
    for (const auto& doc : docs) {
        std::ifstream in(doc);
        std::string line;
        for (int number = 1; std::getline(in, line); ++number) {
            for (std::sregex_iterator it(line.begin(), line.end(), reference), end; it != end; ++it) {
                std::string pattern = std::regex_replace(it->str(), std::regex(R"(\.\.\.)"), "*");
                pattern = std::regex_replace(pattern, std::regex(R"(/[A-Z][A-Z_]*$)"), "/*");
                const bool found = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
                    return glob_match(pattern, name) || glob_match(pattern + "/*", name);
                });
                ++checked;
                if (!found)
                    unknown +=
                        fs::relative(doc, kRoot).string() + ":" + std::to_string(number) + ": " + it->str() + "\n";
            }
        }
    }
    EXPECT_GT(checked, 100u) << "too few test names found in the docs: is the pattern still right?";
    EXPECT_EQ(unknown, "") << "tests named in the docs that no test program has (renamed? removed?)";
}

// The exercises of each lab README's "Exercises" section (`N. ...` at the start of a line), as "<lab> N".
std::set<std::string> readme_exercises() {
    std::set<std::string> found;
    for (const auto& entry : fs::directory_iterator(kRoot)) {
        const std::string lab = entry.path().filename().string();
        if (!std::regex_match(lab, std::regex(R"(\d\d_\w+)")) || !fs::exists(entry.path() / "README.md")) continue;
        std::ifstream in(entry.path() / "README.md");
        std::string line;
        bool inside = false;
        const std::regex exercise(R"(^(\d+)\. \S.*)");
        std::smatch match;
        while (std::getline(in, line)) {
            if (line.starts_with("## "))
                inside = line == "## Exercises";
            else if (inside && std::regex_match(line, match, exercise))
                found.insert(lab + " " + match[1].str());
        }
    }
    return found;
}

// The instructor's answer key (grading/answers/ANSWERS.md, never in the handout) answers every exercise of every
// lab README, under `## <lab>` then `### N. ...`, each with a text: a new exercise without an answer fails here.
TEST(Docs, TheAnswerKeyAnswersEveryExercise) {
    const std::set<std::string> exercises = readme_exercises();
    ASSERT_GT(exercises.size(), 60u) << "too few exercises found in the lab READMEs: is the pattern still right?";
    const fs::path key = kRoot / "grading" / "answers" / "ANSWERS.md";
    std::ifstream in(key);
    ASSERT_TRUE(in) << "no answer key: " << key;
    std::set<std::string> answered;
    std::string lab, current, line, problems;
    size_t text = 0;
    const auto close = [&] {
        if (!current.empty() && text == 0) problems += current + ": an answer heading without an answer\n";
        current.clear();
        text = 0;
    };
    std::smatch match;
    bool fenced = false;  // inside a ``` block: a command's output, never a heading
    for (int number = 1; std::getline(in, line); ++number) {
        if (line.starts_with("```")) fenced = !fenced;
        if (fenced || line.starts_with("```")) {
            text += current.empty() ? 0 : 1;
        } else if (std::regex_match(line, match, std::regex(R"(^## (\d\d_\w+)\s*$)"))) {
            close();
            lab = match[1].str();
        } else if (std::regex_match(line, match, std::regex(R"(^### (\d+)\. .*)"))) {
            close();
            current = lab + " " + match[1].str();
            if (lab.empty() || !answered.insert(current).second)
                problems += "ANSWERS.md:" + std::to_string(number) + ": `" + line + "` twice or outside a `## <lab>`\n";
        } else if (line.starts_with("#")) {
            close();
        } else if (!current.empty() && !line.empty()) {
            ++text;
        }
    }
    close();
    for (const auto& exercise : exercises)
        if (!answered.contains(exercise)) problems += exercise + ": no answer in grading/answers/ANSWERS.md\n";
    for (const auto& answer : answered)
        if (!exercises.contains(answer)) problems += answer + ": answered, but no such exercise in the README\n";
    EXPECT_EQ(problems, "") << exercises.size() << " exercises in the lab READMEs, " << answered.size() << " answered";
}

// Every assignment of grading/assignments.txt has its graded hints (`make hint`): grading/hints/<id>.md, three
// hints separated by lines `---` (the idea, the system calls, the pitfall), none empty.
TEST(Docs, EveryAssignmentHasThreeHints) {
    std::ifstream listing(kRoot / "grading" / "assignments.txt");
    ASSERT_TRUE(listing) << "no grading/assignments.txt";
    std::string line, problems;
    size_t assignments = 0;
    std::smatch match;
    while (std::getline(listing, line)) {
        if (!std::regex_match(line, match, std::regex(R"(^(\d\d\.\d+)\s.*)"))) continue;
        ++assignments;
        const std::string id = match[1].str();
        std::ifstream hints(kRoot / "grading" / "hints" / (id + ".md"));
        if (!hints) {
            problems += id + ": no grading/hints/" + id + ".md\n";
            continue;
        }
        std::vector<size_t> lines_per_hint{0};
        std::string text;
        while (std::getline(hints, text)) {
            if (text == "---")
                lines_per_hint.push_back(0);
            else if (!text.empty())
                ++lines_per_hint.back();
        }
        if (lines_per_hint.size() != 3 || std::count(lines_per_hint.begin(), lines_per_hint.end(), 0u) != 0)
            problems += id + ": " + std::to_string(lines_per_hint.size()) +
                        " hints (or an empty one); expected three separated by lines `---`\n";
    }
    EXPECT_GT(assignments, 6u) << "too few assignments read from grading/assignments.txt";
    EXPECT_EQ(problems, "");
}

}  // namespace
