// 08_webclient/client.cpp: the lecture's web client: fetch a home page, then the files it refers to over at
// most NCONNS connections at once.
//
// Mirrors: the lecture "Network Programming", "Web client: Using threads" (UNP's
// web03: one thread per connection, blocking sockets; main waits on a condition variable for `ndone` and
// joins whichever thread finished) and the "Performance" table, which compares it with the non-blocking
// connect version (`--mode nonblock`: one thread, every socket non-blocking, one poll() loop). And the
// slide "Polling for Available Threads" before the final version (`--mode poll-threads`: main polls ndone).
//
// Usage: client NCONNS HOST HOMEPAGE FILE... [-p PORT] [--mode threads|poll-threads|nonblock] [-o DIR]
//   ./client 3 localhost index.html img/1.png img/2.png img/3.png   against `./server -f www` (port 8085)
// Watch for: with a server that takes a while per request (./server -d), 3 connections take about a
// third of the time of 1; past that the gain flattens, as in the lecture's table.
// See also: server.cpp.
#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <poll.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr uint16_t kDefaultPort = 8085;
constexpr int kMaxFiles = 1000;
constexpr size_t kMaxHead = 64 * 1024;

struct Options {
    std::string host;
    uint16_t port = kDefaultPort;
    std::string output_dir;  // empty: bodies are counted, then discarded
    int timeout_s = 10;
};

// "a b.html" -> "/a%20b.html": the request target for a file name given on the command line.
std::string request_target(const std::string& name) {
    std::string target = name.empty() || name.front() != '/' ? "/" : "";
    static const char* hex = "0123456789ABCDEF";
    for (unsigned char c : name) {
        if (std::isalnum(c) || std::strchr("/-._~", c) != nullptr) {
            target.push_back(static_cast<char>(c));
        } else {
            target.push_back('%');
            target.push_back(hex[c >> 4]);
            target.push_back(hex[c & 15]);
        }
    }
    return target;
}

// Reads one HTTP response as it arrives: the head first, then the body, counted and saved (or discarded).
// Used by both modes: the threads mode feeds it from blocking reads, the nonblock mode from its poll loop.
class ResponseReader {
public:
    ResponseReader(std::string name, const Options& options) : name_(std::move(name)), options_(options) {}

    // Takes the next bytes; false when the response is malformed (error() says why).
    bool feed(const char* data, size_t size) {
        if (!head_done_) {
            head_.append(data, size);
            const size_t end = head_.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (head_.size() > kMaxHead) return fail("response head over 64 KiB");
                return true;
            }
            std::string rest = head_.substr(end + 4);
            head_.resize(end);
            head_done_ = true;
            if (!parse_head()) return false;
            return rest.empty() || body(rest.data(), rest.size());
        }
        return body(data, size);
    }
    // The server closed the connection: the response must be complete.
    bool finish() {
        if (!head_done_) return fail(head_.empty() ? "no response" : "connection closed inside the response head");
        if (content_length_ && body_bytes_ != *content_length_)
            return fail("connection closed after " + std::to_string(body_bytes_) + " of " +
                        netutil::count(*content_length_, "byte"));
        if (file_) {
            file_->close();
            if (!*file_) return fail("cannot write " + saved_path_);
        }
        return true;
    }
    const std::string& error() const { return error_; }
    int status() const { return status_; }
    const std::string& reason() const { return reason_; }
    uint64_t body_bytes() const { return body_bytes_; }

private:
    bool fail(std::string why) {
        error_ = std::move(why);
        return false;
    }
    bool parse_head() {
        // "HTTP/1.1 200 OK"
        const size_t line_end = head_.find("\r\n");
        const std::string status_line = head_.substr(0, line_end);
        if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12)
            return fail("not an HTTP response: " + status_line);
        status_ = std::atoi(status_line.c_str() + 9);
        reason_ = status_line.size() > 13 ? status_line.substr(13) : "";
        std::string lower = head_;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (const size_t at = lower.find("\r\ncontent-length:"); at != std::string::npos)
            content_length_ = std::strtoull(head_.c_str() + at + 17, nullptr, 10);
        if (!options_.output_dir.empty() && status_ == 200) {
            std::filesystem::path path =
                std::filesystem::path(options_.output_dir) / std::filesystem::path(name_).relative_path();
            if (path.filename().empty()) path /= "index.html";
            std::error_code ignored;
            std::filesystem::create_directories(path.parent_path(), ignored);
            saved_path_ = path.string();
            file_.emplace(path, std::ios::binary | std::ios::trunc);
            if (!*file_) return fail("cannot create " + saved_path_);
        }
        return true;
    }
    bool body(const char* data, size_t size) {
        body_bytes_ += size;
        if (file_ && !file_->write(data, static_cast<std::streamsize>(size)))
            return fail("cannot write " + saved_path_);
        return true;
    }

    std::string name_;
    const Options& options_;
    std::string head_;
    bool head_done_ = false;
    int status_ = 0;
    std::string reason_;
    std::optional<uint64_t> content_length_;
    uint64_t body_bytes_ = 0;
    std::optional<std::ofstream> file_;
    std::string saved_path_;
    std::string error_;
};

std::string get_command(const std::string& name, const std::string& host) {
    // One file per connection, as in the lecture: the server closes after the response.
    return "GET " + request_target(name) + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
}

// What became of one file.
struct Outcome {
    bool ok = false;
    std::string summary;  // "4096 bytes, status 200 OK", or what failed
    uint64_t bytes = 0;   // body bytes received
};

Outcome judge(ResponseReader& reader, bool finished) {
    if (!finished) return {false, reader.error()};
    const std::string summary = netutil::count(reader.body_bytes(), "byte") + ", status " +
                                std::to_string(reader.status()) +
                                (reader.reason().empty() ? "" : " " + reader.reason());
    return {reader.status() == 200, summary, reader.body_bytes()};
}

// Connects, sends the GET, reads the reply until the server closes: the blocking way (home page, threads).
Outcome fetch_blocking(const std::string& name, const Options& options) {
    try {
        const netutil::UniqueFd fd =
            netutil::tcp_connect(options.host, options.port, std::chrono::seconds(options.timeout_s));
        netutil::set_receive_timeout(fd.get(), std::chrono::seconds(options.timeout_s));
        netutil::write_all(fd.get(), get_command(name, options.host));
        ResponseReader reader(name, options);
        char buffer[64 * 1024];
        for (;;) {
            const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
            if (n == 0) break;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return {false, "no reply for " + std::to_string(options.timeout_s) + " s (timed out)"};
            if (n < 0) return {false, std::string("read: ") + std::strerror(errno)};
            if (!reader.feed(buffer, static_cast<size_t>(n))) return {false, reader.error()};
        }
        return judge(reader, reader.finish());
    } catch (const std::system_error& error) {
        return {false, error.what()};  // "connect to HOST:PORT: Connection refused"
    }
}

// The lecture's struct file, and its flags.
enum Flags { kConnecting = 1, kReading = 2, kDone = 4, kJoined = 8 };
struct File {
    std::string name;
    int flags = 0;
    int thread_number = 0;
    std::thread thread;
    Outcome outcome;
};

// --mode threads: the lecture's final web client. At most `maxnconn` threads at once; each connects with
// a blocking connect, sends its GET and reads to EOF, then, under ndone_mutex, marks itself F_DONE, counts
// ndone up and signals ndone_cond. Main sleeps on the condition variable (no polling) and joins exactly the
// threads that are done.
void fetch_with_threads(std::vector<File>& files, int maxnconn, const Options& options) {
    std::mutex ndone_mutex;
    std::condition_variable ndone_cond;
    int ndone = 0;
    int nconn = 0, nlefttoconn = static_cast<int>(files.size()), nlefttoread = nlefttoconn;
    int next_thread = 0;

    while (nlefttoread > 0) {
        while (nconn < maxnconn && nlefttoconn > 0) {
            // The flags are written by the threads under ndone_mutex, so main reads them under it too
            // (the slide reads them unlocked: a data race that ThreadSanitizer reports).
            std::unique_lock scan_lock(ndone_mutex);
            File& file = *std::find_if(files.begin(), files.end(), [](const File& f) { return f.flags == 0; });
            file.flags = kConnecting;
            scan_lock.unlock();
            file.thread_number = ++next_thread;
            file.thread = std::thread([&, &file = file] {
                Outcome outcome = fetch_blocking(file.name, options);
                const std::lock_guard lock(ndone_mutex);
                file.outcome = std::move(outcome);
                file.flags = kDone;
                ++ndone;
                ndone_cond.notify_one();
            });
            ++nconn;
            --nlefttoconn;
        }
        std::unique_lock lock(ndone_mutex);
        ndone_cond.wait(lock, [&] { return ndone > 0; });
        for (File& file : files) {
            if (file.flags & kDone) {
                file.thread.join();
                file.flags = kJoined;
                --ndone;
                --nconn;
                --nlefttoread;
                netutil::print_line("thread " + std::to_string(file.thread_number) + " for " + file.name +
                                    " done: " + file.outcome.summary);
            }
        }
    }
}

// --mode poll-threads: the slide "Polling for Available Threads", the step before the condition variable.
// The same threads, but each only counts `ndone` up under ndone_mutex; main, having started what it may,
// locks the mutex, looks whether ndone > 0, joins the threads marked done, unlocks, and goes round again at
// once. While every thread waits for its server, main spins: a core busy doing nothing, which the condition
// variable of the final version removes (the `main polled` line counts the rounds).
void fetch_with_polling_threads(std::vector<File>& files, int maxnconn, const Options& options) {
    std::mutex ndone_mutex;
    int ndone = 0;
    int nconn = 0, nlefttoconn = static_cast<int>(files.size()), nlefttoread = nlefttoconn;
    int next_thread = 0;
    long polls = 0;

    while (nlefttoread > 0) {
        while (nconn < maxnconn && nlefttoconn > 0) {
            std::unique_lock scan_lock(ndone_mutex);  // the flags are the threads' too (see fetch_with_threads)
            File& file = *std::find_if(files.begin(), files.end(), [](const File& f) { return f.flags == 0; });
            file.flags = kConnecting;
            scan_lock.unlock();
            file.thread_number = ++next_thread;
            file.thread = std::thread([&, &file = file] {
                Outcome outcome = fetch_blocking(file.name, options);
                const std::lock_guard lock(ndone_mutex);
                file.outcome = std::move(outcome);
                file.flags = kDone;
                ++ndone;
            });
            ++nconn;
            --nlefttoconn;
        }
        // See if one of the threads is done.
        std::unique_lock lock(ndone_mutex);
        ++polls;
        if (ndone > 0) {
            for (File& file : files) {
                if (file.flags & kDone) {
                    file.thread.join();
                    file.flags = kJoined;
                    --ndone;
                    --nconn;
                    --nlefttoread;
                    netutil::print_line("thread " + std::to_string(file.thread_number) + " for " + file.name +
                                        " done: " + file.outcome.summary);
                }
            }
        }
        lock.unlock();  // and straight round again, as the slide does: main never sleeps
    }
    netutil::print_line("main polled ndone " + std::to_string(polls) + " times");
}

// --mode nonblock: the version the lecture's table compares with: one thread, non-blocking connect() for up
// to `maxnconn` files at once, and one poll() loop that moves each connection along
// (connecting -> writing the GET -> reading to EOF).
void fetch_nonblocking(std::vector<File>& files, int maxnconn, const Options& options) {
    struct Slot {
        File* file;
        netutil::UniqueFd fd;
        std::string request;
        size_t sent = 0;
        std::unique_ptr<ResponseReader> reader;
        std::chrono::steady_clock::time_point deadline;
        size_t address = 0;  // which of the server's addresses it is connecting to
    };
    std::vector<Slot> active;
    size_t next = 0;
    size_t left = files.size();
    // Every address the host resolves to is tried in turn, as a blocking connect would (`localhost` may
    // be ::1 first while the server listens on IPv4 only).
    const std::vector<netutil::SockAddr> server = netutil::resolve_all(options.host, options.port);
    const std::string where = netutil::join_host_port(options.host, options.port);
    const auto timeout = std::chrono::seconds(options.timeout_s);

    // Starts a non-blocking connect to the slot's address, or to the next ones if it fails at once;
    // returns 0, or the errno of the last address tried.
    const auto start_connect = [&server](Slot& slot) {
        int error = 0;
        for (; slot.address < server.size(); ++slot.address) {
            const netutil::SockAddr& address = server[slot.address];
            slot.fd.reset(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
            if (!slot.fd) netutil::throw_errno("socket");
            if (::connect(slot.fd.get(), address.get(), address.length) == 0 || errno == EINPROGRESS) return 0;
            error = errno;
        }
        return error;
    };

    const auto finish = [](Slot& slot, Outcome outcome) {
        slot.file->outcome = std::move(outcome);
        slot.file->flags = kDone;
        netutil::print_line("connection for " + slot.file->name + " done: " + slot.file->outcome.summary);
        slot.fd.reset();
    };

    while (left > 0) {
        while (static_cast<int>(active.size()) < maxnconn && next < files.size()) {
            Slot slot{&files[next++], {}, {}, 0, nullptr, std::chrono::steady_clock::now() + timeout};
            slot.request = get_command(slot.file->name, options.host);
            slot.reader = std::make_unique<ResponseReader>(slot.file->name, options);
            slot.file->flags = kConnecting;
            if (const int error = start_connect(slot); error != 0) {
                finish(slot, {false, "connect to " + where + ": " + std::strerror(error)});
                --left;
                continue;
            }
            active.push_back(std::move(slot));
        }
        std::vector<pollfd> fds;
        for (const Slot& slot : active)
            fds.push_back({slot.fd.get(), static_cast<short>(slot.sent < slot.request.size() ? POLLOUT : POLLIN), 0});
        const int n = ::poll(fds.data(), fds.size(), 100);
        if (n == -1 && errno != EINTR) netutil::throw_errno("poll");
        const auto now = std::chrono::steady_clock::now();
        for (size_t i = 0; i < active.size(); ++i) {
            Slot& slot = active[i];
            const short revents = fds[i].revents;
            if (revents == 0) {
                if (now > slot.deadline)
                    finish(slot,
                           {false, (slot.file->flags == kConnecting ? "connect" : "reply") +
                                       std::string(" timed out after ") + std::to_string(options.timeout_s) + " s"});
                continue;
            }
            if (slot.file->flags == kConnecting) {
                int error = 0;
                socklen_t length = sizeof error;
                ::getsockopt(slot.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
                if (error != 0 && slot.address + 1 < server.size()) {
                    ++slot.address;  // refused here: the next address, with the same deadline
                    error = start_connect(slot);
                    if (error == 0) continue;
                }
                if (error != 0) {
                    finish(slot, {false, "connect to " + where + ": " + std::strerror(error)});
                    continue;
                }
                slot.file->flags = kReading;
            }
            if (slot.sent < slot.request.size()) {
                const ssize_t sent = ::send(slot.fd.get(), slot.request.data() + slot.sent,
                                            slot.request.size() - slot.sent, MSG_NOSIGNAL);
                if (sent < 0 && errno != EAGAIN && errno != EINTR)
                    finish(slot, {false, std::string("send: ") + std::strerror(errno)});
                if (sent > 0) slot.sent += static_cast<size_t>(sent);
                continue;
            }
            char buffer[64 * 1024];
            const ssize_t got = ::read(slot.fd.get(), buffer, sizeof buffer);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (got < 0) {
                finish(slot, {false, std::string("read: ") + std::strerror(errno)});
            } else if (got == 0) {
                finish(slot, judge(*slot.reader, slot.reader->finish()));
            } else {
                slot.deadline = now + timeout;
                if (!slot.reader->feed(buffer, static_cast<size_t>(got))) finish(slot, {false, slot.reader->error()});
            }
        }
        const auto done = std::remove_if(active.begin(), active.end(), [](const Slot& slot) { return !slot.fd; });
        left -= static_cast<size_t>(active.end() - done);
        active.erase(done, active.end());
    }
}

// --mode: the lecture's final version, the slide before it, and the version its table compares with.
enum class FetchMode { Threads, PollThreads, Nonblock };
const std::vector<std::pair<std::string, FetchMode>> kFetchModeNames{
    {"threads", FetchMode::Threads}, {"poll-threads", FetchMode::PollThreads}, {"nonblock", FetchMode::Nonblock}};

std::string fetch_mode_name(FetchMode mode) {
    for (const auto& [name, value] : kFetchModeNames)
        if (value == mode) return name;
    return "?";
}

struct Settings {
    int maxnconn = 3;
    std::string homepage;
    std::vector<std::string> names;
    FetchMode mode = FetchMode::Threads;
    Options options;
};

Settings parse_settings(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);
    const Options& options = settings.options;
    const int maxnconn = settings.maxnconn;

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        std::vector<File> files(settings.names.size());
        for (size_t i = 0; i < settings.names.size(); ++i) files[i].name = settings.names[i];
        netutil::print_line("nfiles = " + std::to_string(files.size()));

        const netutil::Stopwatch clock;
        const Outcome home = fetch_blocking(settings.homepage, options);
        netutil::print_line("home page " + settings.homepage + ": " + home.summary);
        if (!home.ok && home.bytes == 0 && home.summary.find("status") == std::string::npos) {
            // No HTTP answer at all (refused, unreachable, timed out): the other files would fail the same way.
            netutil::print_error("client: " + settings.homepage + ": " + home.summary);
            return 1;
        }
        switch (settings.mode) {
            case FetchMode::Threads: fetch_with_threads(files, maxnconn, options); break;
            case FetchMode::PollThreads: fetch_with_polling_threads(files, maxnconn, options); break;
            case FetchMode::Nonblock: fetch_nonblocking(files, maxnconn, options); break;
        }
        const double seconds = clock.seconds();

        uint64_t bytes = home.bytes;
        size_t failed = home.ok ? 0 : 1;
        for (const File& file : files) {
            bytes += file.outcome.bytes;
            if (!file.outcome.ok) ++failed;
        }
        char line[200];
        std::snprintf(line, sizeof line,
                      "fetched %zu of %zu files (%llu bytes) in %.3f s with at most %d connections (%s)",
                      files.size() + 1 - failed, files.size() + 1, static_cast<unsigned long long>(bytes), seconds,
                      maxnconn, fetch_mode_name(settings.mode).c_str());
        netutil::print_line(line);
        if (!home.ok) netutil::print_error("client: " + settings.homepage + ": " + home.summary);
        for (const File& file : files)
            if (!file.outcome.ok) netutil::print_error("client: " + file.name + ": " + file.outcome.summary);
        return failed == 0 ? 0 : 1;
    });
}

namespace {

// The lecture's `web NCONNS HOST HOMEPAGE FILE...`, plus the port, the mode and the output folder.
Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "The lecture's web client: fetches HOMEPAGE from HOST, then the FILEs with at most NCONNS\n"
        "connections at once (one thread per connection, or one non-blocking poll loop), and reports\n"
        "each file and the total clock time. Exits 1 if any file failed."};
    app.footer(
        "Example: ./client 3 localhost index.html img/1.gif img/2.gif img/3.gif -p 8085\n"
        "Each file gets its own connection (Connection: close); bodies are counted and discarded unless -o.");
    Settings settings;
    int port = kDefaultPort;
    app.add_option("NCONNS", settings.maxnconn, "maximum number of simultaneous connections")
        ->required()
        ->check(netutil::whole_number(1, 1000));
    app.add_option("HOST", settings.options.host, "the web server's host name or address")->required();
    app.add_option("HOMEPAGE", settings.homepage, "the home page, fetched first (e.g. index.html)")->required();
    app.add_option("FILE", settings.names, "the files to fetch after it (at most 1000)")->required();
    app.add_option("-p,--port", port, "the server's port")->capture_default_str()->check(netutil::port_number(1));
    app.add_option("--mode", settings.mode,
                   "threads (a thread per connection, main waits on a condition\n"
                   "variable: the lecture's final version), poll-threads (the same\n"
                   "threads, main polls for a finished one: the slide before it) or\n"
                   "nonblock (one thread, non-blocking connects)")
        ->transform(netutil::one_of(kFetchModeNames).description(""))
        ->type_name("TEXT:{threads,poll-threads,nonblock}")
        ->default_str("threads");
    app.add_option("-o,--output", settings.options.output_dir,
                   "save the bodies under this folder (default: count and discard them)");
    app.add_option("--timeout", settings.options.timeout_s,
                   "seconds to wait for a connection, or for the next bytes of a reply,\n"
                   "before that file fails")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 3600));
    netutil::parse_or_exit(app, argc, argv);
    if (settings.names.size() > kMaxFiles) netutil::usage_error("at most " + std::to_string(kMaxFiles) + " files");
    settings.options.port = static_cast<uint16_t>(port);
    return settings;
}

}  // namespace
