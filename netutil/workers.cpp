// netutil/workers.cpp: the generic helpers of the manager/worker labs (see workers.hpp).
#include "netutil/workers.hpp"

#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace netutil {

// ================================================================================================ manager

void add_manager_options(CLI::App& app, int& reply_timeout, const std::string& reply_help, int reply_max,
                         int& hello_timeout, std::string& bind_address) {
    app.add_option("--reply-timeout", reply_timeout, reply_help)
        ->capture_default_str()
        ->check(whole_number(1, reply_max));
    app.add_option("--hello-timeout", hello_timeout,
                   "seconds a new connection has to say HELLO before it is turned "
                   "away (it never counts as a worker)")
        ->capture_default_str()
        ->check(whole_number(1, 3600));
    app.add_option("--bind", bind_address,
                   "address to listen on (:: is every address, IPv6 and IPv4; 0.0.0.0 is IPv4 only)")
        ->capture_default_str();
}

Hello read_hello(int fd, std::string_view hello, size_t max_line, const RunEvents& events, int timeout_ms) {
    LineReader reader(fd, max_line, events.quit.fd(), timeout_ms);
    std::string line;
    switch (reader.read_line(line)) {
        case LineReader::Status::Line: break;
        case LineReader::Status::Stopped: return {Hello::Status::Stopped, ""};
        case LineReader::Status::TimedOut:
            return {Hello::Status::Refused, "said nothing for " + std::to_string(timeout_ms / 1000) + " s"};
        case LineReader::Status::TooLong: return {Hello::Status::Refused, "sent a line too long"};
        default: return {Hello::Status::Refused, "closed without saying HELLO"};
    }
    if (line != hello || !reader.buffered().empty())
        return {Hello::Status::Refused, "sent " + quote(line) + " instead of " + std::string(hello)};
    return {Hello::Status::Said, ""};
}

void turn_away(int fd, const std::string& peer, const std::string& why, const std::string& tell) {
    print_line("turned away " + peer + ": " + why);
    try {
        write_all(fd, "error: " + tell + "\n");
    } catch (const std::system_error&) {  // it is gone already: nothing to tell
    }
}

StartWait wait_for_start(int fd, const RunEvents& events) {
    pollfd fds[3] = {{fd, POLLIN, 0}, {events.started.fd(), POLLIN, 0}, {events.quit.fd(), POLLIN, 0}};
    for (;;) {
        if (::poll(fds, 3, -1) == -1) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        // The start first: a run can be over before a slow handler wakes (all the work done by the others),
        // and its worker is still owed a BYE. Quit alone means stopped before the start.
        if (fds[1].revents != 0) return StartWait::Started;
        if (fds[2].revents != 0) return StartWait::Quit;
        if (fds[0].revents != 0) return StartWait::Left;
    }
}

// ================================================================================================= worker

void add_worker_options(CLI::App& app, WorkerOptions& options, const std::string& delay_help,
                        const std::string& verbose_help) {
    app.add_option("HOST", options.host, "manager to connect to")->capture_default_str();
    app.add_option("PORT", options.port, "manager port")->capture_default_str()->check(kPortRange);
    app.add_option("--retry", options.retry_seconds, "seconds to keep retrying while the manager is not listening yet")
        ->capture_default_str()
        ->check(whole_number(0, 3600));
    app.add_option("--delay-ms", options.delay_ms, delay_help)->capture_default_str()->check(whole_number(0, 60000));
    app.add_option("--timeout", options.timeout_seconds,
                   "seconds to wait for the manager's next message (it waits "
                   "for the other workers first) before giving up")
        ->capture_default_str()
        ->check(whole_number(1, 86400));
    app.add_flag("-v,--verbose", options.verbose, verbose_help);
}

WorkerOptions parse_worker_options(int argc, char** argv, const std::string& about, int port,
                                   const std::string& delay_help, const std::string& verbose_help) {
    CLI::App app{about};
    WorkerOptions options{.port = port};
    add_worker_options(app, options, delay_help, verbose_help);
    parse_or_exit(app, argc, argv);
    return options;
}

UniqueFd connect_to_manager(const WorkerOptions& options) {
    const auto port = static_cast<uint16_t>(options.port);
    const Stopwatch waited;
    bool said = false;
    for (;;) {
        try {
            UniqueFd manager = tcp_connect(options.host, port);
            print_line("worker connected to " + options.host + ":" + std::to_string(options.port));
            return manager;
        } catch (const std::system_error& error) {
            const int code = error.code().value();
            const bool retry = code == ECONNREFUSED || code == ETIMEDOUT || code == ECONNRESET;
            if (!retry || waited.seconds() >= options.retry_seconds) throw;
            if (!said)
                print_line("manager not there yet: retrying for " + std::to_string(options.retry_seconds) + " s");
            said = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

int work_for_manager(int fd, std::string_view hello, size_t max_line, int timeout_seconds,
                     const std::function<std::optional<std::string>(const std::string& line)>& work,
                     const std::function<std::string()>& summary) {
    std::string line;
    std::string held;  // answers not sent yet, `held_count` of them
    size_t held_count = 0;
    size_t most_out = 1;  // the most messages seen out at once: held, worked on, and waiting here
    try {
        // Each write is a whole answer (or several): nothing to gain from Nagle's algorithm, which would hold a
        // batch smaller than a segment until the manager acknowledges the last one, up to its delayed ACK (40 ms)
        // when the manager has nothing to send back (the end of the run).
        const int on = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // best effort: only the timing depends on it
        write_all(fd, std::string(hello) + "\n");
        LineReader reader(fd, max_line, -1, timeout_seconds * 1000);
        for (;;) {
            const auto status = reader.read_line(line);
            if (status == LineReader::Status::Eof) {
                print_line("manager closed the connection: " + summary());
                return 0;
            }
            if (status == LineReader::Status::TimedOut)
                throw std::runtime_error("the manager said nothing for " + std::to_string(timeout_seconds) + " s");
            if (status != LineReader::Status::Line) throw std::runtime_error("the manager sent a broken line");
            if (line.rfind("error:", 0) == 0) throw std::runtime_error("the manager said " + quote(line));
            if (line == "BYE") {
                print_line("manager says BYE: " + summary());
                return 0;
            }
            const std::string_view next = reader.buffered();  // the manager's next messages, already here
            const auto waiting = static_cast<size_t>(std::count(next.begin(), next.end(), '\n'));
            const std::optional<std::string> answer = work(line);
            if (answer && answer->empty()) continue;  // a message with no answer (the CANVAS line of 09)
            if (answer) {
                most_out = std::max(most_out, held_count + 1 + waiting);
                held += *answer;
                ++held_count;
            }
            // Sent now when nothing else is here to work on, or half of what the manager keeps out is held (and
            // always before the error for a line that is not the protocol: the answers before it were right).
            if (!answer || waiting == 0 || 2 * held_count >= most_out) {
                if (!held.empty()) write_all(fd, held);
                held.clear();
                held_count = 0;
            }
            if (!answer) break;
        }
    } catch (const std::system_error& error) {
        // The manager's side went away: a reset or a broken pipe when we write.
        const int code = error.code().value();
        if (code != EPIPE && code != ECONNRESET) throw;
        print_line("manager closed the connection: " + summary());
        return 0;
    }
    try {
        write_all(fd, "error: unexpected " + quote(line) + "\n");
    } catch (const std::system_error&) {}
    throw std::runtime_error("the manager sent " + quote(line) + ", which is not the protocol");
}

}  // namespace netutil
