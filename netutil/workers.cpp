// netutil/workers.cpp: the plumbing of the manager/worker labs (see workers.hpp).
#include "netutil/workers.hpp"

#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <poll.h>
#include <stdexcept>
#include <system_error>

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

WorkerBoard::WorkerBoard(int nworkers, int pieces, const RunEvents& events)
    : nworkers_(nworkers), events_(events), taken_(static_cast<size_t>(nworkers), false), remaining_(pieces) {}

std::optional<int> WorkerBoard::join(const std::string& peer) {
    std::lock_guard lock(mutex_);
    if (started_) return std::nullopt;
    const auto free = std::find(taken_.begin(), taken_.end(), false);
    if (free == taken_.end()) return std::nullopt;
    const int t = static_cast<int>(free - taken_.begin());
    taken_[static_cast<size_t>(t)] = true;
    print_line("worker " + std::to_string(t) + " connected from " + peer);
    if (++joined_ == nworkers_) {
        started_ = true;
        alive_ = nworkers_;
        start_locked();
        events_.started.request_stop();
    }
    return t;
}

bool WorkerBoard::leave_before_start(int t) {
    std::lock_guard lock(mutex_);
    if (started_) return false;
    taken_[static_cast<size_t>(t)] = false;
    --joined_;
    print_line("worker " + std::to_string(t) + " left before the start: waiting for " +
               std::to_string(nworkers_ - joined_) + " more");
    return true;
}

void WorkerBoard::end() {
    std::lock_guard lock(mutex_);
    over_ = true;
    changed_.notify_all();
}

int WorkerBoard::remaining() const {
    std::lock_guard lock(mutex_);
    return remaining_;
}

bool WorkerBoard::started() const {
    std::lock_guard lock(mutex_);
    return started_;
}

void WorkerBoard::done_locked() {
    if (--remaining_ == 0) {
        changed_.notify_all();
        events_.finished.request_stop();
    }
}

void WorkerBoard::lost_locked() {
    --alive_;
    if (alive_ == 0 && remaining_ > 0) {
        over_ = true;
        events_.finished.request_stop();
    }
    changed_.notify_all();
}

WorkerAcceptor::WorkerAcceptor(const std::string& bind_address, uint16_t port, const ManagerLimits& limits)
    : limits_(limits) {
    stop_on_signals(stop_, {SIGINT, SIGTERM, SIGHUP});
    listener_ = tcp_listen(bind_address, port);
    set_nonblocking(listener_.get());
    print_listening(listener_.get());
}

std::optional<Stopwatch> WorkerAcceptor::run(WorkerBoard& board, const Serve& serve) {
    // Also when the loop fails (poll, accept): the handlers are told to stop and joined, never left running.
    auto end_run = [&] {
        listener_.reset();
        quit_.request_stop();
        board.end();
        for (auto& handler : handlers_) handler.thread.join();
        handlers_.clear();
    };
    try {
        const std::optional<Stopwatch> since_start = accept_until_done(board, serve);
        end_run();
        return since_start;
    } catch (...) {
        end_run();
        throw;
    }
}

// Handlers of connections turned away finish at once; they are joined as new connections come, so a flood
// of bad peers cannot pile up threads.
// Accepting pauses while max_pending connections are still saying hello, and while descriptors have run out
// (EMFILE: accept fails, the connection stays in the backlog, and the listener stays readable, so watching it
// would spin): the listener is left out of the poll, which looks again every pause_ms. New connections wait
// in the backlog meanwhile. Each pause is said once.
std::optional<Stopwatch> WorkerAcceptor::accept_until_done(const WorkerBoard& board, const Serve& serve) {
    std::optional<Stopwatch> since_start;
    bool said_crowded = false, said_out_of_fds = false;
    bool out_of_fds = false;
    pollfd fds[4] = {
        {listener_.get(), POLLIN, 0}, {stop_.fd(), POLLIN, 0}, {finished_.fd(), POLLIN, 0}, {started_.fd(), POLLIN, 0}};
    for (;;) {
        std::erase_if(handlers_, [](Handler& handler) {
            if (handler.running->load()) return false;
            handler.thread.join();
            return true;
        });
        const bool crowded = saying_hello_.load() >= limits_.max_pending;
        if (crowded && !said_crowded)
            print_line(std::to_string(limits_.max_pending) +
                       " connections are still saying hello: new "
                       "connections wait in the backlog until one of them is done");
        said_crowded = said_crowded || crowded;
        const bool paused = crowded || out_of_fds;
        fds[0].fd = paused ? -1 : listener_.get();
        const int ready = ::poll(fds, since_start ? 3 : 4, paused ? limits_.pause_ms : -1);
        if (ready == -1) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (fds[1].revents != 0 || fds[2].revents != 0) return since_start;
        if (!since_start && fds[3].revents != 0) since_start.emplace();
        if (crowded) continue;  // look again after the pause
        if (!out_of_fds && fds[0].revents == 0) continue;
        out_of_fds = false;
        SockAddr peer;
        UniqueFd connection;
        try {
            connection = accept_client(listener_.get(), &peer);
        } catch (const std::system_error& error) {
            const int code = error.code().value();
            if (code != EMFILE && code != ENFILE && code != ENOBUFS && code != ENOMEM) throw;
            if (!said_out_of_fds)
                print_line(std::string("out of descriptors (") + error.what() +
                           "): new connections "
                           "wait in the backlog until one closes");
            said_out_of_fds = true;
            out_of_fds = true;
            continue;
        }
        if (!connection) continue;
        if (board.started()) {
            turn_away(connection.get(), peer.to_string(), "the work has started", "the manager has all its workers");
            continue;
        }
        start_handler(std::move(connection), peer.to_string(), serve);
    }
}

// A connection while workers are missing: a handler thread of its own, counted among those saying hello.
void WorkerAcceptor::start_handler(UniqueFd connection, const std::string& peer, const Serve& serve) {
    auto running = std::make_shared<std::atomic<bool>>(true);
    saying_hello_.fetch_add(1);
    try {
        std::thread thread([this, &serve, running, peer, connection = std::move(connection)]() mutable {
            Greeting greeting(saying_hello_);
            serve(std::move(connection), peer, greeting);
            running->store(false);
        });
        handlers_.push_back({std::move(thread), running});
    } catch (const std::system_error& error) {  // no thread to be had: this connection only is refused
        saying_hello_.fetch_sub(1);
        print_line("turned away " + peer + ": " + error.what());
    }
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
                     const std::function<bool(const std::string& line)>& work,
                     const std::function<std::string()>& summary) {
    std::string line;
    try {
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
            if (!work(line)) break;
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
