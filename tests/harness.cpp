#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <initializer_list>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sstream>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace harness {

namespace {

const char* const kSanitizerMarkers[] = {"ERROR: AddressSanitizer",  "ERROR: LeakSanitizer",
                                         "WARNING: ThreadSanitizer", "ThreadSanitizer: reported",
                                         "runtime error:",           "ERROR: ThreadSanitizer"};

std::chrono::steady_clock::time_point deadline_after(Duration timeout) {
    return std::chrono::steady_clock::now() + scaled(timeout);
}

int ms_left(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Fields of /proc/PID/stat after the command name: state (field 3) is [0], ppid [1]; empty if it is gone.
std::vector<std::string> stat_fields(pid_t pid) {
    const std::string stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
    std::vector<std::string> fields;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return fields;
    std::istringstream rest(stat.substr(close + 2));
    for (std::string field; rest >> field;) fields.push_back(field);
    return fields;
}

// Sum of the /proc/PID/stat fields numbered `numbers` (as proc(5) numbers them), in clock ticks.
double stat_ticks(const std::vector<std::string>& fields, std::initializer_list<size_t> numbers) {
    double ticks = 0;
    for (const size_t number : numbers)
        if (fields.size() > number - 3) ticks += std::stod(fields[number - 3]);
    return ticks;
}

const double kTicksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));

}  // namespace

Duration scaled(Duration d) {
    static const double scale = [] {
        const char* text = std::getenv("LABKIT_TIME_SCALE");
        const double value = text != nullptr ? std::atof(text) : 1.0;
        return value > 0 ? value : 1.0;
    }();
    return Duration(static_cast<long>(static_cast<double>(d.count()) * scale));
}

bool sanitized() {
    const char* variant = std::getenv("LABKIT_VARIANT");
    return variant != nullptr && std::string(variant) != "release";
}

bool exact_thread_counts() {
    const char* variant = std::getenv("LABKIT_VARIANT");
    return variant == nullptr || std::string(variant) != "tsan";
}

std::string program(const std::string& lab, const std::string& name) {
    const char* root = std::getenv("LABKIT_BIN_ROOT");
    return std::string(root != nullptr ? root : LABKIT_SOURCE_ROOT) + "/" + lab + "/" + name;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> result;
    std::string::size_type start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        result.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return result;
}

// ---------------------------------------------------------------------------------------------- Process

namespace {

// In a child between fork and exec (async-signal-safe calls only): a mount namespace of its own, private
// so that nothing leaks back to the machine, where `path` is mounted over /etc/hosts.
bool use_hosts_file(const char* path) {
    return ::unshare(CLONE_NEWNS) == 0 && ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
           ::mount(path, "/etc/hosts", nullptr, MS_BIND, nullptr) == 0;
}

}  // namespace

std::string debian_hosts_file() {
    static char name[] = "/tmp/labkit-hosts-XXXXXX";  // static: the exit handler below still reads it
    static const std::string path = [] {
        const int fd = ::mkstemp(name);
        if (fd == -1) throw std::system_error(errno, std::generic_category(), "mkstemp");
        const std::string text =
            "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n"
            "ff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n";
        const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
        ::close(fd);
        if (!written) throw std::runtime_error("cannot write a hosts file");
        std::atexit([] { ::unlink(name); });
        return std::string(name);
    }();
    return path;
}

bool hosts_file_supported() {
    static const bool supported = [] {
        const std::string hosts = debian_hosts_file();
        const pid_t pid = ::fork();
        if (pid == 0) ::_exit(use_hosts_file(hosts.c_str()) ? 0 : 1);
        int status = 0;
        while (pid > 0 && ::waitpid(pid, &status, 0) == -1 && errno == EINTR) {}
        return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }();
    return supported;
}

Process::Process(std::vector<std::string> argv, Options options) {
    name_ = options.name.empty() ? argv.at(0).substr(argv.at(0).find_last_of('/') + 1) : options.name;
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");

    // Everything the child needs is prepared before fork: between fork and exec it may only make
    // async-signal-safe calls (this test process has threads).
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    for (const auto& extra : options.env) env_strings.push_back(extra);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string hosts = options.hosts_file;

    pid_ = ::fork();
    if (pid_ == -1) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
        ::setpgid(0, 0);  // its own process group, so the test can signal it and all its children at once
        ::dup2(in[0], STDIN_FILENO);
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(err[1], STDERR_FILENO);
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        // A signal ignored by whoever started the tests (nohup, a CI runner) would stay ignored across
        // exec: every program starts with the defaults a user's shell gives it.
        for (const int signo : {SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGQUIT}) ::signal(signo, SIG_DFL);
        // Nor does it inherit the test runner's other descriptors: a descriptor count or an RLIMIT_NOFILE
        // test sees only what the program opened itself.
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        for (const auto& [resource, value] : options.rlimits) {
            const rlimit limit{value, value};
            ::setrlimit(static_cast<int>(resource), &limit);
        }
        if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(126);
        if (!hosts.empty() && !use_hosts_file(hosts.c_str())) {
            const char message[] = "harness: cannot bind-mount the hosts file (needs root)\n";
            [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
            ::_exit(125);
        }
        ::execve(args[0], args.data(), envp.data());
        const char message[] = "harness: exec failed\n";
        [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
        ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also from the parent, so the group exists before we ever signal it
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    stdin_fd_ = in[1];
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    reader_ = std::thread(&Process::reader_loop, this, out[0], err[0]);
}

void Process::reader_loop(int out_fd, int err_fd) {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open = 2;
    char chunk[65536];
    while (open > 0) {
        {
            std::lock_guard lock(mutex_);
            if (stop_reader_) break;
        }
        if (::poll(fds, 2, 50) <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            const ssize_t n = ::read(fds[i].fd, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            std::lock_guard lock(mutex_);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
                (i == 0 ? out_closed_ : err_closed_) = true;
            } else {
                (i == 0 ? out_ : err_).append(chunk, static_cast<size_t>(n));
            }
            changed_.notify_all();
        }
    }
    for (auto& pfd : fds)
        if (pfd.fd >= 0) ::close(pfd.fd);
    std::lock_guard lock(mutex_);
    out_closed_ = err_closed_ = true;
    changed_.notify_all();
}

bool Process::wait_output_closed(Duration timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, scaled(timeout), [&] { return out_closed_ && err_closed_; });
}

Process::~Process() {
    close_stdin();
    if (!status_) {
        ::kill(-pid_, SIGTERM);
        if (!wait_exit(2s, false)) {
            ::kill(-pid_, SIGKILL);
            wait_exit(10s, false);
        }
    }
    ::kill(-pid_, SIGKILL);  // anything the program left behind in its group
    {
        std::unique_lock lock(mutex_);
        // Give the reader a moment to collect the last output, then stop it even if a grandchild that
        // left the group still holds the pipe.
        changed_.wait_for(lock, 2s, [&] { return out_closed_ && err_closed_; });
        stop_reader_ = true;
    }
    reader_.join();
    if (pidfd_ >= 0) ::close(pidfd_);

    const std::string errors = err();
    for (const char* marker : kSanitizerMarkers) {
        if (errors.find(marker) != std::string::npos) {
            ADD_FAILURE() << name_ << " reported a sanitizer error (\"" << marker << "\")";
            break;
        }
    }
    if (::testing::Test::HasFailure()) std::cerr << transcript();
}

std::string Process::transcript() const {
    std::lock_guard lock(mutex_);
    std::ostringstream text;
    text << "----- " << name_ << " (pid " << pid_ << ") stdout -----\n" << out_;
    if (!out_.empty() && out_.back() != '\n') text << "\n";
    text << "----- " << name_ << " stderr -----\n" << err_;
    if (!err_.empty() && err_.back() != '\n') text << "\n";
    text << "----- " << name_ << " end -----\n";
    return text.str();
}

void Process::write(std::string_view text) {
    ASSERT_GE(stdin_fd_, 0) << "stdin of " << name_ << " is closed";
    while (!text.empty()) {
        const ssize_t n = ::write(stdin_fd_, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        ASSERT_GT(n, 0) << "writing to stdin of " << name_ << ": " << std::strerror(errno);
        text.remove_prefix(static_cast<size_t>(n));
    }
}

void Process::close_stdin() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
}

std::string Process::out() const {
    std::lock_guard lock(mutex_);
    return out_;
}

std::string Process::err() const {
    std::lock_guard lock(mutex_);
    return err_;
}

std::vector<std::string> Process::out_lines() const {
    std::lock_guard lock(mutex_);
    auto all = lines(out_);
    if (!out_.empty() && out_.back() != '\n') all.pop_back();  // a line still being written
    return all;
}

bool Process::wait_for(const std::function<bool()>& done, Duration timeout, const std::string& what) {
    const auto deadline = deadline_after(timeout);
    std::unique_lock lock(mutex_);
    for (;;) {
        if (done()) return true;
        if (out_closed_) {
            lock.unlock();
            ADD_FAILURE() << name_ << " closed its output (exited?) before " << what;
            return false;
        }
        if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && !done()) {
            lock.unlock();
            ADD_FAILURE() << name_ << ": timed out after " << scaled(timeout).count() << " ms waiting for " << what;
            return false;
        }
    }
}

uint16_t Process::wait_for_listening(Duration timeout) {
    if (!wait_for([&] { return out_.find('\n') != std::string::npos; }, timeout, "its first line")) return 0;
    const std::string first = out_lines().at(0);
    static const std::regex listening(R"(listening on (\S+):(\d+))");
    std::smatch match;
    if (!std::regex_match(first, match, listening)) {
        ADD_FAILURE() << name_ << ": first line is \"" << first << "\", not \"listening on ADDRESS:PORT\"";
        return 0;
    }
    const int port = std::stoi(match[2]);
    EXPECT_GT(port, 0) << "the listening line shows port 0, not the bound port";
    return static_cast<uint16_t>(port);
}

std::optional<std::string> Process::wait_for_line(const std::string& line, Duration timeout) {
    std::optional<std::string> found;
    auto seen = [&] {
        for (const auto& l : lines(out_))
            if (l == line && out_.find(line + "\n") != std::string::npos) return found = l, true;
        return false;
    };
    if (!wait_for(seen, timeout, "the line \"" + line + "\"")) return std::nullopt;
    return found;
}

std::optional<std::string> Process::wait_for_match(const std::regex& pattern, Duration timeout) {
    std::optional<std::string> found;
    auto seen = [&] {
        auto all = lines(out_);
        if (!out_.empty() && out_.back() != '\n') all.pop_back();
        for (const auto& l : all)
            if (std::regex_match(l, pattern)) return found = l, true;
        return false;
    };
    if (!wait_for(seen, timeout, "a line matching the pattern")) return std::nullopt;
    return found;
}

bool Process::wait_for_text(const std::string& text, Duration timeout) {
    return wait_for([&] { return out_.find(text) != std::string::npos; }, timeout, "\"" + text + "\" on stdout");
}

bool Process::wait_for_err_text(const std::string& text, Duration timeout) {
    const auto deadline = deadline_after(timeout);
    std::unique_lock lock(mutex_);
    if (changed_.wait_until(lock, deadline, [&] { return err_.find(text) != std::string::npos || err_closed_; }) &&
        err_.find(text) != std::string::npos)
        return true;
    lock.unlock();
    ADD_FAILURE() << name_ << ": \"" << text << "\" never appeared on stderr";
    return false;
}

size_t Process::count_matching(const std::regex& pattern) const {
    size_t count = 0;
    for (const auto& l : out_lines())
        if (std::regex_match(l, pattern)) ++count;
    return count;
}

void Process::signal(int signo) {
    if (!status_) ::kill(pid_, signo);
}

void Process::signal_group(int signo) { ::kill(-pid_, signo); }

std::optional<int> Process::wait_exit(Duration timeout, bool expect_exit) {
    if (status_) return status_;
    const auto deadline = deadline_after(timeout);
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            status_ = decode_status(status);
            // Everything it wrote before exiting is in the pipes: let the reader take it all, so that out()
            // and err() are complete once wait_exit returns (bounded: a child it left may hold the pipes).
            wait_output_closed(2s);
            return status_;
        }
        if (done == -1 && errno != EINTR) return std::nullopt;
        const int left = ms_left(deadline);
        if (left == 0) break;
        if (pidfd_ >= 0) {
            pollfd pfd{pidfd_, POLLIN, 0};
            ::poll(&pfd, 1, left);  // readable when the process exits
        } else {
            ::usleep(2000);
        }
    }
    if (expect_exit) ADD_FAILURE() << name_ << " still running after " << scaled(timeout).count() << " ms";
    return std::nullopt;
}

bool Process::wait_for_thread_count(int count, Duration timeout) {
    const auto deadline = deadline_after(timeout);
    int now = thread_count();
    while (now != count && ms_left(deadline) > 0) {
        std::this_thread::sleep_for(5ms);  // /proc cannot be waited on; look again shortly
        now = thread_count();
    }
    if (now == count) return true;
    ADD_FAILURE() << name_ << " has " << now << " threads, not " << count;
    return false;
}

bool Process::running() { return !wait_exit(0ms, false).has_value(); }

int Process::thread_count() const {
    std::istringstream status(read_text_file("/proc/" + std::to_string(pid_) + "/status"));
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
    return -1;
}

int Process::open_fd_count() const {
    DIR* dir = ::opendir(("/proc/" + std::to_string(pid_) + "/fd").c_str());
    if (dir == nullptr) return -1;
    int count = 0;
    while (const dirent* entry = ::readdir(dir))
        if (entry->d_name[0] != '.') ++count;
    ::closedir(dir);
    return count;
}

std::vector<pid_t> Process::children() const {
    std::vector<pid_t> found;
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) return found;
    while (const dirent* entry = ::readdir(dir)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
        if (pid <= 0) continue;
        const auto fields = stat_fields(pid);
        if (fields.size() > 1 && std::stoi(fields[1]) == pid_) found.push_back(pid);
    }
    ::closedir(dir);
    return found;
}

std::vector<pid_t> Process::zombie_children() const {
    std::vector<pid_t> zombies;
    for (pid_t child : children()) {
        const auto fields = stat_fields(child);
        if (!fields.empty() && fields[0] == "Z") zombies.push_back(child);
    }
    return zombies;
}

double Process::cpu_seconds() const {
    double ticks = stat_ticks(stat_fields(pid_), {14, 15, 16, 17});  // utime, stime, cutime, cstime
    for (const pid_t child : children()) ticks += stat_ticks(stat_fields(child), {14, 15});
    return ticks / kTicksPerSecond;
}

double cpu_seconds(pid_t pid) { return stat_ticks(stat_fields(pid), {14, 15}) / kTicksPerSecond; }

bool wait_until(const std::function<bool()>& done, Duration timeout) {
    const auto deadline = deadline_after(timeout);
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);  // polling: there is no event to wait on
    }
    return true;
}

bool group_gone(pid_t pgid, Duration timeout) {
    return wait_until([pgid] { return ::kill(-pgid, 0) == -1 && errno == ESRCH; }, timeout);
}

Result run(std::vector<std::string> argv, const std::string& input, Duration timeout, Options options) {
    Process process(std::move(argv), std::move(options));
    if (!input.empty()) process.write(input);
    process.close_stdin();
    Result result;
    result.status = process.wait_exit(timeout).value_or(-1);
    process.wait_output_closed(2s);
    result.out = process.out();
    result.err = process.err();
    return result;
}

// ---------------------------------------------------------------------------------------------- Connection

Connection::Connection(uint16_t port, const std::string& host) {
    sockaddr_storage address{};
    socklen_t length = 0;
    if (host.find(':') != std::string::npos) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        ::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr);
        length = sizeof *in6;
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&address);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        ::inet_pton(AF_INET, host.c_str(), &in4->sin_addr);
        length = sizeof *in4;
    }
    fd_ = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        const int error = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::system_error(error, std::generic_category(), "connect to port " + std::to_string(port));
    }
}

Connection::~Connection() { close(); }

uint16_t Connection::local_port() const {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

void Connection::send(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::system_error(errno, std::generic_category(), "send");
        data.remove_prefix(static_cast<size_t>(n));
    }
}

void Connection::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void Connection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

namespace {

// One recv() with a deadline: bytes appended to `into`; 0 at EOF, -1 at deadline or error.
ssize_t receive_some(int fd, std::string& into, std::chrono::steady_clock::time_point deadline) {
    pollfd pfd{fd, POLLIN, 0};
    for (;;) {
        const int ready = ::poll(&pfd, 1, ms_left(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return -1;
        char chunk[65536];
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == ECONNRESET ? 0 : -1;
        into.append(chunk, static_cast<size_t>(n));
        return n;
    }
}

}  // namespace

std::string Connection::read_all(Duration timeout) {
    const auto deadline = deadline_after(timeout);
    while (receive_some(fd_, pending_, deadline) > 0) {}
    return std::exchange(pending_, {});
}

std::string Connection::read_exact(size_t n, Duration timeout) {
    const auto deadline = deadline_after(timeout);
    while (pending_.size() < n && receive_some(fd_, pending_, deadline) > 0) {}
    std::string result = pending_.substr(0, n);
    pending_.erase(0, result.size());
    return result;
}

std::optional<std::string> Connection::read_line(Duration timeout) {
    const auto deadline = deadline_after(timeout);
    for (;;) {
        if (const auto end = pending_.find('\n'); end != std::string::npos) {
            std::string line = pending_.substr(0, end);
            pending_.erase(0, end + 1);
            return line;
        }
        if (receive_some(fd_, pending_, deadline) <= 0) return std::nullopt;
    }
}

bool Connection::wait_closed(Duration timeout) {
    const auto deadline = deadline_after(timeout);
    for (;;) {
        std::string discard;
        const ssize_t n = receive_some(fd_, discard, deadline);
        if (n == 0) return true;
        if (n < 0) return false;
    }
}

}  // namespace harness
