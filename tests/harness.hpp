// tests/harness.hpp: runs the kit's real programs as processes, the way a user does, for GoogleTest.
//
//   harness::Process server({harness::program("01_mtserver", "server"), "0", "3"});
//   const uint16_t port = server.wait_for_listening();            // the first line, with a deadline
//   harness::Process client({harness::program("01_mtserver", "client"), "localhost",
//                            std::to_string(port), "--message", "hi"});
//   EXPECT_EQ(client.wait_exit(), 0);
//   server.wait_for_line("0 received hi");
//
// A Process owns the child and its process group: the destructor sends SIGTERM, then SIGKILL after a
// grace period, to the whole group, reaps the child, and (when the test failed) prints everything the
// process wrote. Any sanitizer report in its stderr fails the test.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

namespace harness {

using namespace std::chrono_literals;
using Duration = std::chrono::milliseconds;

// Deadlines are multiplied by this (environment LABKIT_TIME_SCALE, default 1; the sanitizer runs set more).
Duration scaled(Duration d);

// True in the sanitizer builds (SAN=address or SAN=thread), where programs run several times slower:
// the heaviest scale tests use smaller counts there (the behaviour checked stays the same).
bool sanitized();

// False under ThreadSanitizer, whose runtime starts threads of its own at moments of its choosing: tests
// compare a process's thread count exactly only when this is true.
bool exact_thread_counts();

// The path of a lab's program for the build being tested: LABKIT_BIN_ROOT/LAB/PROGRAM (the lab folders
// themselves for a normal build, build/asan or build/tsan for sanitizer builds).
std::string program(const std::string& lab, const std::string& name);

struct Options {
    std::string name{};                                    // label in failure output (default: the program's file name)
    std::string cwd{};                                     // working directory (default: the test's)
    std::vector<std::string> env{};                        // extra NAME=VALUE entries
    std::vector<std::pair<int, unsigned long>> rlimits{};  // setrlimit(RESOURCE, value) in the child before exec
    // A file the program sees as its /etc/hosts (bind-mounted in a private mount namespace of its own, which
    // needs root: check hosts_file_supported() first). Empty: the machine's own.
    std::string hosts_file{};
};

// /etc/hosts as a stock Debian or Ubuntu writes it: `localhost` is 127.0.0.1 and ::1, and the resolver
// gives ::1 first. Test machines often map localhost to 127.0.0.1 only, which hides a client that tries
// only the first address; the tests that matter run under this file too (Options::hosts_file).
std::string debian_hosts_file();
// Whether Options::hosts_file works here (a private mount namespace: root, or a user namespace).
bool hosts_file_supported();

class Process {
public:
    explicit Process(std::vector<std::string> argv, Options options = {});
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& name() const { return name_; }

    // stdin
    void write(std::string_view text);
    void close_stdin();

    // Output seen so far.
    std::string out() const;
    std::string err() const;
    std::vector<std::string> out_lines() const;  // complete lines of stdout

    // Waits until the first stdout line arrives and returns its port; fails the test (and returns 0)
    // unless it is exactly `listening on ADDRESS:PORT`, or the process dies or the deadline passes first.
    uint16_t wait_for_listening(Duration timeout = 10s);

    // Waits for a stdout line that equals `line` / matches `pattern` (whole line), or for `text` anywhere
    // in stdout, and returns it; fails the test and returns std::nullopt on deadline or process exit.
    std::optional<std::string> wait_for_line(const std::string& line, Duration timeout = 10s);
    std::optional<std::string> wait_for_match(const std::regex& pattern, Duration timeout = 10s);
    bool wait_for_text(const std::string& text, Duration timeout = 10s);
    // The same, on stderr.
    bool wait_for_err_text(const std::string& text, Duration timeout = 10s);
    // Number of stdout lines matching `pattern` so far.
    size_t count_matching(const std::regex& pattern) const;

    // Signals: to the process, or to its whole group (as Ctrl-C at a terminal does).
    void signal(int signo);
    void signal_group(int signo);

    // Waits for the process to exit: its exit status, 128+N if killed by signal N; std::nullopt (and a
    // test failure unless `expect_exit` is false) if it is still running at the deadline. Once it returns
    // a status, out() and err() hold everything the process wrote.
    std::optional<int> wait_exit(Duration timeout = 10s, bool expect_exit = true);
    bool running();
    // Waits (without failing) until both output pipes are closed: after exit, all output has been read.
    bool wait_output_closed(Duration timeout = 2s);

    // From /proc, while it runs: its threads, open descriptors, children, and children that are zombies.
    int thread_count() const;
    // Waits until the process has exactly `count` threads (threads start a moment after they are created).
    bool wait_for_thread_count(int count, Duration timeout = 10s);
    int open_fd_count() const;
    std::vector<pid_t> children() const;
    std::vector<pid_t> zombie_children() const;
    // CPU time (user + system) in seconds used so far by the process, its reaped children (cutime, cstime)
    // and its live children, from /proc (clock ticks of 1/sysconf(_SC_CLK_TCK) s, 10 ms here): what a
    // server and its workers burn, for the tests that check a waiting server does not spin.
    double cpu_seconds() const;

private:
    bool wait_for(const std::function<bool()>& done, Duration timeout, const std::string& what);
    void reader_loop(int out_fd, int err_fd);
    std::string transcript() const;

    std::string name_;
    pid_t pid_ = -1;
    int pidfd_ = -1;
    int stdin_fd_ = -1;
    std::optional<int> status_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string out_, err_;
    bool out_closed_ = false;
    bool err_closed_ = false;
    bool stop_reader_ = false;
    std::thread reader_;
};

// Runs a program to completion with `input` on its stdin and returns what it did.
struct Result {
    int status = -1;  // exit status, or 128+N when killed by signal N, or -1 if it had to be killed
    std::string out, err;
};
Result run(std::vector<std::string> argv, const std::string& input = "", Duration timeout = 10s, Options options = {});

// A raw TCP connection from the test itself, for what the real client cannot do (connect and stay
// silent, send half a line, close at a chosen moment). Blocking, with a receive deadline.
class Connection {
public:
    explicit Connection(uint16_t port, const std::string& host = "127.0.0.1");
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    int fd() const { return fd_; }
    uint16_t local_port() const;
    void send(std::string_view data);
    void shutdown_write();
    void close();
    // Reads until EOF or the deadline; the bytes read.
    std::string read_all(Duration timeout = 10s);
    // Reads exactly n bytes (fewer at EOF or deadline).
    std::string read_exact(size_t n, Duration timeout = 10s);
    // Reads one line (without "\n"); std::nullopt at EOF or deadline.
    std::optional<std::string> read_line(Duration timeout = 10s);
    // True if the peer closed (EOF or reset) within the deadline; data that arrives first is discarded.
    bool wait_closed(Duration timeout = 10s);

private:
    int fd_ = -1;
    std::string pending_;
};

// CPU time (user + system) in seconds used so far by the process `pid` alone, without its children, from
// /proc/PID/stat; 0 once it is gone. For a forking server's parent, which must not spin while its children work.
double cpu_seconds(pid_t pid);

// Polls `done` (every 10 ms) until it holds: true, or false at the (scaled) deadline. For what has no event
// to wait on, such as /proc or a count of output lines.
bool wait_until(const std::function<bool()>& done, Duration timeout = 10s);

// True once no process of the group `pgid` is left (a Process's group is its pid), within the deadline.
bool group_gone(pid_t pgid, Duration timeout = 5s);

// Lines of `text`, split on "\n" (a last line without "\n" included).
std::vector<std::string> lines(const std::string& text);

}  // namespace harness
