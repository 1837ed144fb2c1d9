// 09_mandelbrot/manager.cpp: the manager's frame around the accept loop and the hand-out (see manager.hpp).
#include "manager.hpp"

#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <system_error>

namespace manager {

// ================================================================================================= Roster

Roster::Roster(int nworkers, int pieces, const netutil::RunEvents& events, std::function<void()> start_locked)
    : nworkers_(nworkers),
      events_(events),
      start_locked_(std::move(start_locked)),
      taken_(static_cast<size_t>(nworkers), false),
      remaining_(pieces) {}

std::optional<int> Roster::join(const std::string& peer) {
    std::lock_guard lock(mutex_);
    if (started_) return std::nullopt;
    const auto free = std::find(taken_.begin(), taken_.end(), false);
    if (free == taken_.end()) return std::nullopt;
    const int t = static_cast<int>(free - taken_.begin());
    taken_[static_cast<size_t>(t)] = true;
    netutil::print_line("worker " + std::to_string(t) + " connected from " + peer);
    if (++joined_ == nworkers_) {
        started_ = true;
        alive_ = nworkers_;
        start_locked_();
        events_.started.request_stop();
    }
    return t;
}

bool Roster::leave_before_start(int t) {
    std::lock_guard lock(mutex_);
    if (started_) return false;
    taken_[static_cast<size_t>(t)] = false;
    --joined_;
    netutil::print_line("worker " + std::to_string(t) + " left before the start: waiting for " +
                        std::to_string(nworkers_ - joined_) + " more");
    return true;
}

void Roster::end() {
    std::lock_guard lock(mutex_);
    over_ = true;
    changed_.notify_all();
}

int Roster::remaining() const {
    std::lock_guard lock(mutex_);
    return remaining_;
}

bool Roster::started() const {
    std::lock_guard lock(mutex_);
    return started_;
}

void Roster::done_locked() {
    if (--remaining_ == 0) {
        changed_.notify_all();
        events_.finished.request_stop();
    }
}

void Roster::lost_locked() {
    --alive_;
    if (alive_ == 0 && remaining_ > 0) {
        over_ = true;
        events_.finished.request_stop();
    }
    changed_.notify_all();
}

// ================================================================================================ Doorway

void add_port_and_workers(CLI::App& app, ManagerSettings& settings, const std::string& work) {
    app.add_option("PORT", settings.port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    app.add_option("NWORKERS", settings.nworkers, "number of workers to wait for before handing out " + work)
        ->capture_default_str()
        ->check(netutil::whole_number(1, 256));
}

void add_prefetch_option(CLI::App& app, ManagerSettings& settings, int default_k, const std::string& units,
                         const std::string& lost) {
    settings.prefetch = default_k;
    app.add_option("--prefetch", settings.prefetch,
                   units +
                       " out at each worker at once: it finds the next one in its socket instead of waiting a "
                       "round trip for it (1: one at a time); " +
                       lost)
        ->capture_default_str()
        ->check(netutil::whole_number(1, kMaxPrefetch));
}

Doorway::Doorway(const ManagerSettings& settings) : limits_(settings.limits()) {
    netutil::stop_on_signals(stop_, {SIGINT, SIGTERM, SIGHUP});
    listener_ = netutil::tcp_listen(settings.bind_address, static_cast<uint16_t>(settings.port));
    netutil::set_nonblocking(listener_.get());
    netutil::print_listening(listener_.get());
}

// While accepting is paused (max_pending connections still saying hello, or descriptors run out: EMFILE,
// accept fails, the connection stays in the backlog, and the listener stays readable, so watching it would
// spin), the listener is left out of the poll, which looks again every pause_ms. Each pause is said once.
std::optional<Caller> Doorway::accept(const Roster& roster, const std::atomic<int>& saying_hello) {
    pollfd fds[4] = {
        {listener_.get(), POLLIN, 0}, {stop_.fd(), POLLIN, 0}, {finished_.fd(), POLLIN, 0}, {started_.fd(), POLLIN, 0}};
    for (;;) {
        const bool crowded = saying_hello.load() >= limits_.max_pending;
        if (crowded && !said_crowded_)
            netutil::print_line(std::to_string(limits_.max_pending) +
                                " connections are still saying hello: new connections wait in the backlog until one "
                                "of them is done");
        said_crowded_ = said_crowded_ || crowded;
        const bool paused = crowded || out_of_fds_;
        fds[0].fd = paused ? -1 : listener_.get();
        if (::poll(fds, since_start_ ? 3 : 4, paused ? limits_.pause_ms : -1) == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("poll");
        }
        if (fds[1].revents != 0 || fds[2].revents != 0) return std::nullopt;
        if (!since_start_ && fds[3].revents != 0) since_start_.emplace();
        if (crowded) continue;  // look again after the pause
        if (!out_of_fds_ && fds[0].revents == 0) continue;
        out_of_fds_ = false;
        netutil::SockAddr peer;
        netutil::UniqueFd connection;
        try {
            connection = netutil::accept_client(listener_.get(), &peer);
        } catch (const std::system_error& error) {
            const int code = error.code().value();
            if (code != EMFILE && code != ENFILE && code != ENOBUFS && code != ENOMEM) throw;
            if (!said_out_of_fds_)
                netutil::print_line(std::string("out of descriptors (") + error.what() +
                                    "): new connections wait in the backlog until one closes");
            said_out_of_fds_ = true;
            out_of_fds_ = true;
            continue;
        }
        if (!connection) continue;
        if (roster.started()) {
            netutil::turn_away(connection.get(), peer.to_string(), "the work has started",
                               "the manager has all its workers");
            continue;
        }
        return Caller{std::move(connection), peer.to_string()};
    }
}

void Doorway::close() {
    listener_.reset();
    quit_.request_stop();
}

// =============================================================================================== Handlers

void Handlers::start(Caller caller, const Serve& serve) {
    std::erase_if(handlers_, [](Handler& handler) {
        if (handler.running->load()) return false;
        handler.thread.join();
        return true;
    });
    auto running = std::make_shared<std::atomic<bool>>(true);
    const std::string peer = caller.peer;
    saying_hello_.fetch_add(1);
    try {
        std::thread thread([this, serve, running, caller = std::move(caller)]() mutable {
            Greeting greeting(saying_hello_);
            serve(std::move(caller), greeting);
            running->store(false);
        });
        handlers_.push_back({std::move(thread), running});
    } catch (const std::system_error& error) {  // no thread to be had: this connection only is refused
        saying_hello_.fetch_sub(1);
        netutil::print_line("turned away " + peer + ": " + error.what());
    }
}

void Handlers::join_all() {
    door_.close();
    roster_.end();
    for (auto& handler : handlers_) handler.thread.join();
    handlers_.clear();
}

// ======================================================================================= serve_connection

void serve_connection(Caller caller, Greeting& greeting, Roster& roster, const netutil::RunEvents& events,
                      const netutil::ManagerLimits& limits, const Handshake& handshake,
                      const std::function<void(int fd, int t)>& hand_out,
                      const std::function<void(int t, const std::string& why)>& lose) {
    const int fd = caller.connection.get();
    const std::string& peer = caller.peer;
    std::optional<int> slot;
    try {
        netutil::set_send_timeout(fd, std::chrono::milliseconds(limits.reply_timeout_ms));
        const netutil::Hello hello =
            netutil::read_hello(fd, handshake.hello, handshake.max_line, events, limits.hello_timeout_ms);
        greeting.end();
        switch (hello.status) {
            case netutil::Hello::Status::Said: break;
            case netutil::Hello::Status::Stopped: return;
            case netutil::Hello::Status::Refused:
                return netutil::turn_away(fd, peer, hello.why, "expected " + std::string(handshake.hello));
        }
        slot = roster.join(peer);
        if (!slot)
            return netutil::turn_away(fd, peer, "every worker is there already", "the manager has all its workers");
        if (!handshake.welcome.empty()) netutil::write_all(fd, handshake.welcome + "\n");

        // Waiting for the others: a worker that sends anything now, or closes, leaves.
        switch (netutil::wait_for_start(fd, events)) {
            case netutil::StartWait::Started: break;
            case netutil::StartWait::Quit: return;
            case netutil::StartWait::Left:
                if (roster.leave_before_start(*slot)) return;
                throw Lost{"connection closed"};
        }

        hand_out(fd, *slot);
        if (events.quit.stop_requested() && roster.remaining() > 0) return;  // Ctrl-C: closing is the message
        netutil::write_all(fd, "BYE\n");
    } catch (const Stopped&) {
    } catch (const Lost& lost) {
        if (slot) lose(*slot, lost.why);
    } catch (const std::system_error& error) {
        if (!slot) {
            netutil::print_line("turned away " + peer + ": " + error.what());
        } else if (!roster.leave_before_start(*slot)) {
            lose(*slot, error.what());
        }
    }
}

// ============================================================================================ the ending

bool stopped_by_signal(const Roster& roster, int total, const std::string& noun, const std::string& consequence) {
    const int signo = netutil::caught_signal();
    const int remaining = roster.remaining();
    if (remaining == 0 || signo == 0) return false;
    netutil::print_line("manager stopped by " + netutil::signal_name(signo) + ": " +
                        (roster.started()
                             ? std::to_string(total - remaining) + " of " + netutil::count(total, noun) + " were done"
                             : std::string("the work had not started")) +
                        ", " + consequence);
    return true;
}

bool no_worker_left(const Roster& roster, int total, const std::string& noun, const std::string& not_done) {
    const int remaining = roster.remaining();
    if (remaining == 0) return false;
    netutil::print_error(netutil::program_name() + ": no worker left: " + std::to_string(remaining) + " of " +
                         netutil::count(total, noun) + " " + not_done);
    return true;
}

}  // namespace manager
