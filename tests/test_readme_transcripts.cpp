// The labs' README transcripts, run and compared: a README can no longer show what its programs do not print.
//
// Every fenced block of a lab's README.md that follows a line `<!-- transcript [OPTIONS] -->` is one test.
// The test reads the block from the README itself, runs the commands it shows (`$ COMMAND` lines, through
// sh, in a scratch folder holding links to the lab's programs) and compares what they print with the lines
// shown under them:
//   - numbers are wildcards (ports, PIDs, descriptors, timings, CPU figures): a shown 0.169 matches any
//     N.N, a shown 38008 any number; `exact=15,6036` keeps those numbers exact. A shown 127.0.0.1 also
//     matches ::1 and [::1] (localhost may resolve to either). Every word must be the same.
//   - a line that starts with what a program printed as a prompt (no newline yet, ending in a space) shows
//     what the user types: the rest of the line is written to the program's stdin (`^D` closes it).
//   - `^C` (alone or at the start of a line) sends SIGINT to the terminal's process group, as Ctrl-C does.
//   - `...` on a line of its own skips any output up to the next line shown; a `$` alone waits for the
//     command to exit. At the end every command must have exited with status 0 and printed nothing more.
// Options: `terminals="server|client A"`: the block is a scene in several terminals, each line starting
// with `[NAME]`; lines are played in the order shown (a command starts once the lines above it were seen),
// the commands of different terminals run at the same time. `any-order=NAME`: that terminal's consecutive
// output lines may come in any order (threads, processes). `setup`: the block's shell lines up to the first
// that starts a lab program are run as a recipe (`make` lines skipped: the programs are built).
//
// The whole program runs in a private network namespace (its own loopback, IPv6 and IPv4), so the commands
// run exactly as typed, default ports included, without meeting other servers on the machine. That needs root
// or an unprivileged user namespace; without either the transcripts are skipped, with the reason.
//
// Slides: the transcripts every lab README shows from its lecture's slides, run as shown.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- a private network namespace, entered before any thread exists -------------------------------------

void write_file(const char* path, const std::string& text) { std::ofstream(path) << text; }

std::string enter_private_network() {
    if (unshare(CLONE_NEWNET) != 0) {  // not root: a user namespace of our own, where we are
        const uid_t uid = getuid();
        const gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
        write_file("/proc/self/setgroups", "deny");
        write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1");
        write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
    }
    const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    const bool up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
                    (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
    const int saved = errno;
    if (s >= 0) close(s);
    return up ? "" : std::string("bringing lo up: ") + std::strerror(saved);
}

// Typing to a program that has already exited must fail the test, not kill it with SIGPIPE.
const std::string kNetworkError = (signal(SIGPIPE, SIG_IGN), enter_private_network());

// ---- the blocks -----------------------------------------------------------------------------------------

struct Block {
    std::string lab;
    int line = 0;  // line of the README where the block's first line is
    std::map<std::string, std::string> options;
    std::vector<std::string> lines;
};

std::map<std::string, std::string> parse_options(const std::string& text) {
    std::map<std::string, std::string> options;
    static const std::regex option(R"re(([A-Za-z][\w-]*)(?:=("[^"]*"|\S+))?)re");
    for (std::sregex_iterator it(text.begin(), text.end(), option), end; it != end; ++it) {
        std::string value = (*it)[2];
        if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
        options[(*it)[1]] = value;
    }
    return options;
}

std::vector<Block> find_blocks() {
    std::vector<Block> blocks;
    std::vector<fs::path> readmes;
    for (const auto& entry : fs::directory_iterator(LABKIT_SOURCE_ROOT)) {
        const auto name = entry.path().filename().string();
        if (name.size() > 3 && std::isdigit(static_cast<unsigned char>(name[0])) && name[2] == '_' &&
            fs::exists(entry.path() / "README.md"))
            readmes.push_back(entry.path() / "README.md");
    }
    std::sort(readmes.begin(), readmes.end());
    static const std::regex marker(R"(^<!-- transcript\b(.*)-->\s*$)");
    for (const auto& readme : readmes) {
        std::ifstream in(readme);
        std::string text;
        int number = 0;
        std::optional<Block> pending;
        bool inside = false;
        while (std::getline(in, text)) {
            ++number;
            std::smatch m;
            if (!inside && std::regex_match(text, m, marker)) {
                pending = Block{readme.parent_path().filename().string(), 0, parse_options(m[1]), {}};
            } else if (text.rfind("```", 0) == 0) {
                if (!inside && pending) {
                    inside = true;
                    pending->line = number + 1;
                } else if (inside) {
                    inside = false;
                    blocks.push_back(*pending);
                    pending.reset();
                }
            } else if (inside) {
                pending->lines.push_back(text);
            }
        }
    }
    return blocks;
}

// ---- matching a shown line against a printed one --------------------------------------------------------

std::string rtrim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

std::string ltrim(std::string s) {
    s.erase(0, s.find_first_not_of(" \t"));
    return s;
}

std::string escape(const std::string& s) {
    static const std::string special = R"(\^$.|?*+()[]{})";
    std::string out;
    for (char c : s) {
        if (special.find(c) != std::string::npos) out += '\\';
        out += c;
    }
    return out;
}

std::regex pattern_of(const std::string& shown, const std::set<std::string>& exact) {
    static const std::regex number(R"(\d+(?:\.\d+)*)");
    std::string pattern;
    auto last = shown.cbegin();
    for (std::sregex_iterator it(shown.begin(), shown.end(), number), end; it != end; ++it) {
        pattern += escape(std::string(last, (*it)[0].first));
        const std::string token = (*it)[0];
        if (token == "127.0.0.1")
            pattern += R"((?:127\.0\.0\.1|\[::1\]|::1|::ffff:127\.0\.0\.1))";
        else if (exact.count(token))
            pattern += escape(token);
        else
            pattern += std::regex_replace(token, std::regex(R"(\d+)"), R"(\d+)");
        last = (*it)[0].second;
    }
    pattern += escape(std::string(last, shown.cend()));
    return std::regex(pattern);
}

// ---- a terminal: one command at a time, stdout and stderr on one pipe, in its own process group ------------

struct Terminal {
    std::string name;
    pid_t pid = -1;
    int in = -1, out = -1;
    std::string buffer;  // printed and not yet compared
    bool eof = false;
    int status = 0;
    bool skipping = false;     // after `...`: lines are skipped until one matches the next line shown
    std::string echo;          // what was typed: a program reading a pipe may echo it on a line of its own
    bool ended_input = false;  // after ^D: a program may end the prompt's line itself, as a terminal would
    std::string command;
    std::string log;  // every line read so far, for the failure report

    ~Terminal() {
        if (pid > 0) {
            kill(-pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        if (in >= 0) close(in);
        if (out >= 0) close(out);
    }
};

class Scene {
public:
    Scene(fs::path dir, std::set<std::string> exact, std::string context)
        : dir_(std::move(dir)), exact_(std::move(exact)), context_(std::move(context)) {}

    Terminal& terminal(const std::string& name) {
        auto& t = terminals_[name];
        if (!t) {
            t = std::make_unique<Terminal>();
            t->name = name;
        }
        return *t;
    }

    void start(Terminal& t, const std::string& command) {
        if (t.pid > 0) finish(t);
        int to_child[2], from_child[2];
        if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        const pid_t pid = fork();
        if (pid == 0) {
            setpgid(0, 0);
            dup2(to_child[0], 0);
            dup2(from_child[1], 1);
            dup2(from_child[1], 2);
            signal(SIGINT, SIG_DFL);
            signal(SIGPIPE, SIG_DFL);
            if (chdir(dir_.c_str()) != 0) _exit(127);
            // A program started as typed replaces the shell, so Ctrl-C reaches the program and no shell.
            const std::string line = command.rfind("./", 0) == 0 ? "exec " + command : command;
            execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        setpgid(pid, pid);
        close(to_child[0]);
        close(from_child[1]);
        fcntl(from_child[0], F_SETFL, O_NONBLOCK);
        t.pid = pid;
        t.in = to_child[1];
        t.out = from_child[0];
        t.buffer.clear();
        t.log += "$ " + command + "\n";
        t.eof = false;
        t.skipping = false;
        t.command = command;
    }

    // Reads whatever the terminals print, for up to `wait`.
    void pump(std::chrono::milliseconds wait) {
        std::vector<pollfd> fds;
        std::vector<Terminal*> owners;
        for (auto& [name, t] : terminals_) {
            if (t->out >= 0 && !t->eof) {
                fds.push_back({t->out, POLLIN, 0});
                owners.push_back(t.get());
            }
        }
        if (fds.empty()) {
            std::this_thread::sleep_for(wait);
            return;
        }
        if (poll(fds.data(), fds.size(), static_cast<int>(wait.count())) <= 0) return;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            char data[4096];
            const ssize_t n = read(fds[i].fd, data, sizeof data);
            if (n > 0)
                owners[i]->buffer.append(data, static_cast<std::size_t>(n));
            else if (n == 0 || errno != EAGAIN)
                owners[i]->eof = true;
        }
    }

    Clock::time_point deadline() const { return Clock::now() + harness::scaled(30s); }

    // The next complete line the terminal printed (or its last, unterminated one once it closed its output).
    std::optional<std::string> next_line(Terminal& t, Clock::time_point until) {
        while (true) {
            const auto nl = t.buffer.find('\n');
            if (nl != std::string::npos) {
                std::string line = t.buffer.substr(0, nl);
                t.buffer.erase(0, nl + 1);
                const bool echoed = (!t.echo.empty() && line == t.echo) || (t.ended_input && line.empty());
                t.echo.clear();
                t.ended_input = false;
                if (echoed) continue;
                t.log += "  " + line + "\n";
                return line;
            }
            if (t.eof || t.pid < 0) {
                if (t.buffer.empty()) return std::nullopt;
                std::string line = t.buffer;
                t.buffer.clear();
                t.log += "  " + line + "\n";
                return line;
            }
            if (Clock::now() > until) return std::nullopt;
            pump(50ms);
        }
    }

    std::string where(const Terminal& t) const {
        return context_ + (t.name.empty() ? "" : " [" + t.name + "]") + " (" + t.command + ")";
    }

    bool matches(const std::string& printed, const std::string& shown) {
        const std::string key = rtrim(ltrim(shown));
        auto it = patterns_.find(key);
        if (it == patterns_.end()) it = patterns_.emplace(key, pattern_of(key, exact_)).first;
        return std::regex_match(rtrim(ltrim(printed)), it->second);
    }

    // One shown line of output (or a prompt with what the user types).
    void expect(Terminal& t, const std::string& shown) {
        auto until = deadline();
        while (true) {
            // A prompt: printed without a newline, ending in a space, and the shown line goes on after it.
            if (t.buffer.find('\n') == std::string::npos && !t.buffer.empty() && t.buffer.back() == ' ' &&
                shown.size() > t.buffer.size() && shown.compare(0, t.buffer.size(), t.buffer) == 0) {
                const std::string typed = shown.substr(t.buffer.size());
                t.buffer.clear();
                if (typed == "^D") {
                    close(t.in);
                    t.in = -1;
                    t.ended_input = true;
                } else {
                    t.echo = typed;
                    const std::string line = typed + "\n";
                    ASSERT_EQ(write(t.in, line.data(), line.size()), static_cast<ssize_t>(line.size()))
                        << where(t) << ": typing " << typed;
                }
                t.skipping = false;
                return;
            }
            if (t.buffer.find('\n') == std::string::npos && !t.eof && Clock::now() < until) {
                pump(50ms);
                continue;
            }
            const auto printed = next_line(t, until);
            if (!printed) {
                ADD_FAILURE() << where(t) << ": expected the line\n  " << shown << "\nbut "
                              << (t.eof ? "the output ended" : "nothing came within the deadline")
                              << (t.buffer.empty() ? "" : ", with an unfinished line: " + t.buffer);
                return;
            }
            if (matches(*printed, shown)) {
                t.skipping = false;
                return;
            }
            if (!t.skipping) {
                ADD_FAILURE() << where(t) << ": expected the line\n  " << shown << "\nbut the program printed\n  "
                              << *printed;
                return;
            }
            until = deadline();  // a line skipped after `...` is progress
        }
    }

    // Lines that may come in any order: as many lines are read, each must match a different shown one.
    void expect_any_order(Terminal& t, std::vector<std::string> shown) {
        const auto until = deadline();
        while (!shown.empty()) {
            const auto printed = next_line(t, until);
            if (!printed) {
                ADD_FAILURE() << where(t) << ": " << shown.size() << " more lines expected, in any order, such as\n  "
                              << shown.front();
                return;
            }
            auto it = std::find_if(shown.begin(), shown.end(), [&](const auto& s) { return matches(*printed, s); });
            if (it != shown.end()) {
                shown.erase(it);
                t.skipping = false;
            } else if (!t.skipping) {
                ADD_FAILURE() << where(t) << ": the program printed\n  " << *printed
                              << "\nwhich is none of the lines shown (in any order), such as\n  " << shown.front();
                return;
            }
        }
    }

    // The last lines the command prints before it exits (in order, or in any order).
    void expect_tail(Terminal& t, const std::vector<std::string>& shown, bool any_order) {
        const auto until = deadline();
        while (!t.eof && Clock::now() < until) pump(50ms);
        std::vector<std::string> printed;
        while (auto line = next_line(t, until)) printed.push_back(*line);
        if (printed.size() < shown.size()) {
            ADD_FAILURE() << where(t) << ": expected at least " << shown.size() << " more lines, got "
                          << printed.size();
            return;
        }
        std::vector<std::string> tail(printed.end() - static_cast<long>(shown.size()), printed.end());
        std::vector<std::string> left = shown;
        for (std::size_t k = 0; k < tail.size(); ++k) {
            const auto match = [&](const std::string& s) { return matches(tail[k], s); };
            auto it = any_order ? std::find_if(left.begin(), left.end(), match)
                                : (match(left.front()) ? left.begin() : left.end());
            if (it == left.end()) {
                ADD_FAILURE() << where(t) << ": expected the line\n  " << left.front()
                              << "\nbut the program printed\n  " << tail[k];
                return;
            }
            left.erase(it);
        }
        t.skipping = false;
    }

    void interrupt(Terminal& t) {
        ASSERT_GT(t.pid, 0) << context_ << ": ^C with no command running in " << t.name;
        kill(-t.pid, SIGINT);
    }

    // Waits for the terminal's command to exit; it must exit 0 and print nothing more than was shown.
    void finish(Terminal& t) {
        if (t.pid < 0) return;
        const auto until = deadline();
        int status = 0;
        pid_t done = 0;
        while ((done = waitpid(t.pid, &status, WNOHANG)) == 0 && Clock::now() < until) pump(50ms);
        if (done == 0) {
            ADD_FAILURE() << where(t) << ": still running at the end of what the README shows";
            kill(-t.pid, SIGKILL);
            waitpid(t.pid, &status, 0);
        }
        while (!t.eof && Clock::now() < until) pump(50ms);
        t.pid = -1;
        if (done != 0) {
            EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
                << where(t) << ": exited with " << (WIFEXITED(status) ? "status " : "signal ")
                << (WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status)) << "\n"
                << t.buffer;
        }
        if (!t.echo.empty() && t.buffer.rfind(t.echo + "\n", 0) == 0) t.buffer.erase(0, t.echo.size() + 1);
        t.echo.clear();
        if (!t.skipping) {
            EXPECT_EQ(rtrim(t.buffer), "") << where(t) << ": printed more than the README shows";
        }
        t.buffer.clear();
        t.skipping = false;
        if (t.in >= 0) close(t.in);
        if (t.out >= 0) close(t.out);
        t.in = t.out = -1;
    }

    void finish_all() {
        for (auto& [name, t] : terminals_) finish(*t);
    }

    // After a failure: no waiting for programs whose input will never come (each terminal's destructor
    // kills its process group).
    void kill_all() {
        for (auto& [name, t] : terminals_) {
            std::cout << context_ << ": what " << (name.empty() ? "the commands" : "[" + name + "]")
                      << " printed, up to the failure:\n"
                      << t->log << (t->buffer.empty() ? "" : "  " + t->buffer + "\n");
        }
        terminals_.clear();
    }

private:
    fs::path dir_;
    std::set<std::string> exact_;
    std::string context_;
    std::map<std::string, std::unique_ptr<Terminal>> terminals_;
    std::map<std::string, std::regex> patterns_;  // compiled once per shown line: `...` may skip thousands
};

// ---- playing a block ------------------------------------------------------------------------------------

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, separator);)
        if (!part.empty()) parts.push_back(part);
    return parts;
}

// One scratch folder per lab, shared by its blocks in README order (a setup block's files stay for the next).
fs::path lab_folder(const std::string& lab) {
    static std::map<std::string, fs::path> folders;
    static struct Cleanup {
        std::map<std::string, fs::path>* folders;
        ~Cleanup() {
            for (auto& [lab, dir] : *folders) fs::remove_all(dir);
        }
    } cleanup{&folders};
    auto& dir = folders[lab];
    if (dir.empty()) {
        std::string pattern = (fs::temp_directory_path() / ("transcript-" + lab + "-XXXXXX")).string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
        dir = pattern;
        const fs::path programs = fs::path(harness::program(lab, "server")).parent_path();
        for (const char* name : {"server", "client", "stopflag", "counter", "prodcons", "mpi"})
            if (fs::exists(programs / name)) fs::create_symlink(fs::absolute(programs / name), dir / name);
        // What a lab ships beside its programs (08's site), from the sources, whichever build runs.
        const fs::path sources = fs::path(LABKIT_SOURCE_ROOT) / lab;
        for (const char* name : {"www"})
            if (fs::exists(sources / name)) fs::create_symlink(sources / name, dir / name);
    }
    return dir;
}

void run_setup(const Block& block, const fs::path& dir) {
    for (const auto& line : block.lines) {
        const std::string command = ltrim(line);
        if (command.rfind("./", 0) == 0) break;
        if (command.empty() || command.rfind("make", 0) == 0 || command[0] == '#') continue;
        const auto result = harness::run({"/bin/sh", "-c", "cd '" + dir.string() + "' && " + command}, "", 30s);
        ASSERT_EQ(result.status, 0) << block.lab << " line " << block.line << ": " << command;
    }
}

// A line that is not output: a command, its end, `...`, Ctrl-C.
bool is_action(const std::string& text) {
    const std::string line = rtrim(text);
    return line == "$" || line == "..." || line.rfind("$ ", 0) == 0 || line.rfind("^C", 0) == 0;
}

void play(const Block& block) {
    const fs::path dir = lab_folder(block.lab);
    if (block.options.count("setup")) return run_setup(block, dir);

    std::set<std::string> exact;
    for (const auto& n : split(block.options.count("exact") ? block.options.at("exact") : "", ',')) exact.insert(n);
    const auto names = split(block.options.count("terminals") ? block.options.at("terminals") : "", '|');
    const auto any_order = split(block.options.count("any-order") ? block.options.at("any-order") : "", '|');
    Scene scene(dir, exact, block.lab + "/README.md:" + std::to_string(block.line));

    // Each line as (terminal, text).
    std::vector<std::pair<std::string, std::string>> steps;
    for (std::size_t i = 0; i < block.lines.size(); ++i) {
        const std::string& line = block.lines[i];
        const std::string at = block.lab + "/README.md:" + std::to_string(block.line + static_cast<int>(i));
        if (names.empty()) {
            steps.emplace_back("", line);
            continue;
        }
        if (rtrim(line).empty()) continue;
        bool found = false;
        for (const auto& name : names) {
            if (line.rfind("[" + name + "]", 0) == 0) {
                steps.emplace_back(name, ltrim(line.substr(name.size() + 2)));
                found = true;
                break;
            }
        }
        ASSERT_TRUE(found) << at << ": a line of a scene must start with one of its terminals: " << line;
    }

    for (std::size_t i = 0; i < steps.size(); ++i) {
        const auto& [name, text] = steps[i];
        Terminal& t = scene.terminal(name);
        const std::string trimmed = rtrim(text);
        if (trimmed == "$") {
            scene.finish(t);
        } else if (trimmed.rfind("$ ", 0) == 0) {
            scene.start(t, trimmed.substr(2));
        } else if (trimmed == "...") {
            // `...` then the terminal's last lines before its command exits: those are the output's tail.
            std::size_t j = i + 1;
            while (j < steps.size() && steps[j].first == name && !is_action(steps[j].second)) ++j;
            if (j > i + 1 && (j == steps.size() || rtrim(steps[j].second) == "$")) {
                std::vector<std::string> tail;
                for (std::size_t k = i + 1; k < j; ++k) tail.push_back(steps[k].second);
                scene.expect_tail(t, tail, std::find(any_order.begin(), any_order.end(), name) != any_order.end());
                i = j - 1;
            } else {
                t.skipping = true;
            }
        } else if (trimmed.rfind("^C", 0) == 0) {
            scene.interrupt(t);
            if (trimmed.size() > 2) scene.expect(t, trimmed.substr(2));
        } else if (std::find(any_order.begin(), any_order.end(), name) != any_order.end()) {
            std::vector<std::string> group{text};
            while (i + 1 < steps.size() && steps[i + 1].first == name && !is_action(steps[i + 1].second))
                group.push_back(steps[++i].second);
            scene.expect_any_order(t, group);
        } else {
            scene.expect(t, text);
        }
        if (::testing::Test::HasFailure()) break;
    }
    if (::testing::Test::HasFailure())
        scene.kill_all();
    else
        scene.finish_all();
}

void PrintTo(const Block& block, std::ostream* out) { *out << block.lab << "/README.md:" << block.line; }

class Transcript : public ::testing::TestWithParam<Block> {};

TEST_P(Transcript, PrintsWhatTheReadmeShows) {
    // Without one (not root, and user namespaces disabled) the default ports could be anyone's: skipped, saying why.
    if (!kNetworkError.empty()) GTEST_SKIP() << "no private network namespace for the transcripts: " << kNetworkError;
    play(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Readmes, Transcript, ::testing::ValuesIn(find_blocks()),
                         [](const ::testing::TestParamInfo<Block>& info) {
                             std::string name = info.param.lab + "_line" + std::to_string(info.param.line);
                             for (auto& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

// Every lab's README has at least one transcript that runs.
TEST(Transcripts, EveryLabReadmeHasOne) {
    std::set<std::string> labs;
    for (const auto& block : find_blocks())
        if (!block.options.count("setup")) labs.insert(block.lab);
    for (const auto& entry : fs::directory_iterator(LABKIT_SOURCE_ROOT)) {
        const auto name = entry.path().filename().string();
        const bool lab = name.size() > 3 && std::isdigit(static_cast<unsigned char>(name[0]));
        if (lab && fs::exists(entry.path() / "README.md")) {
            EXPECT_TRUE(labs.count(name)) << name << "/README.md has no `<!-- transcript -->` block";
        }
    }
}

}  // namespace
