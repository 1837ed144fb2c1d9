// 08_webclient/event_loop.hpp: what the two event loops share, async.cpp (the Reactor: epoll says a socket is
// ready, the loop makes the call) and uring.cpp (the Proactor: the loop hands io_uring the operation, the
// kernel says when it has completed). Both keep the same HTTP state per connection and move it along the same
// way; how the bytes come in and go out is what differs, and that stays in each file. Here: that state, the
// steps that are the same in both (what follows a response, a request that -d delays, the linger, the close
// of an idle connection), the loop's timers, and the threads of `--workers N`.
//
// Each loop owns its connections and its timers and calls these from its one thread; shared_stats() is the only
// thing the loops share.
#pragma once

#include "models.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace web {

inline constexpr auto kScanInterval = std::chrono::milliseconds(250);  // idle deadlines are checked this often
inline constexpr auto kLinger = std::chrono::milliseconds(500);        // reading the rest after a closing response
// Unparsed input a connection may hold: a whole request of the largest size the parser accepts, and some.
inline constexpr size_t kMaxBuffered = http::kMaxRequestLine + http::kMaxHeaderBytes + http::kMaxBody + 4096;

// One connection as both loops keep it; each file's Connection adds what its way of doing I/O needs.
// The loop moves it along: read requests -> (delay) -> send the response -> next.
struct HttpConnection {
    netutil::UniqueFd fd;
    ConnectionInfo info;
    std::string in;                            // bytes received, not yet parsed into requests
    std::optional<Response> out;               // the response being sent
    std::optional<http::ParseResult> delayed;  // -d: a request waiting for its timer
    Clock::time_point delay_until{};
    Clock::time_point deadline{};  // idle deadline, or the end of the linger
    bool eof = false;              // the client closed its side
    bool lingering = false;        // we closed our side and read what still comes, then close
};

// A connection that has just done something is next called idle at this time (never with --idle-timeout 0).
inline Clock::time_point idle_deadline(const Settings& settings) {
    return settings.idle_timeout_s > 0 ? Clock::now() + std::chrono::seconds(settings.idle_timeout_s)
                                       : Clock::time_point::max();
}

// What a connection does once its response is all out.
enum class AfterResponse { NextRequest, Close, Linger };

// The response is all out: counts it (the summary) and says what comes next.
inline AfterResponse response_sent(HttpConnection& c, const Settings& settings, const Worker& worker) {
    shared_stats().requests++;
    shared_stats().worker_requests[worker.index]++;
    const bool close_after = c.out->close_after;
    const bool unread_input = c.out->status >= 400 && c.out->status != 404 && c.out->status != 403;
    c.out.reset();
    c.deadline = idle_deadline(settings);
    if (close_after && (unread_input || !c.in.empty())) return AfterResponse::Linger;
    if (close_after) return AfterResponse::Close;
    return AfterResponse::NextRequest;
}

// -d: a complete request is not answered now but waits in c.delayed until c.delay_until (the loop sets a timer
// for it). False when it is to be answered at once.
inline bool delay_request(HttpConnection& c, const http::ParseResult& parsed, const Settings& settings,
                          const Worker& worker) {
    if (settings.delay_ms <= 0 || parsed.status != http::ParseStatus::Complete) return false;
    log_line(settings, worker, c.info,
             parsed.request.method + " " + parsed.request.target + " received, answering in " +
                 std::to_string(settings.delay_ms) + " ms");
    c.delayed = parsed;
    c.delay_until = Clock::now() + std::chrono::milliseconds(settings.delay_ms);
    return true;
}

// A closing response is out: shut our side and read (discard) what the client still sends until it
// closes, for at most kLinger, so that unread bytes never make the kernel reset the connection before
// the client has read the response. (The loop reads on, and closes at the client's EOF or the deadline.)
inline void begin_linger(HttpConnection& c, const Settings& settings, const Worker& worker) {
    log_line(settings, worker, c.info, "closed after the response");
    ::shutdown(c.fd.get(), SHUT_WR);
    c.lingering = true;
    c.in.clear();
    c.deadline = Clock::now() + kLinger;
}

// The keys of the connections past their idle deadline, in a loop's table (key -> std::unique_ptr<Connection>);
// not those whose -d timer runs: that wait is the server's, not the client's.
template <class Connections>
std::vector<typename Connections::key_type> past_deadline(const Connections& connections, Clock::time_point now) {
    std::vector<typename Connections::key_type> expired;
    for (const auto& [key, c] : connections)
        if (now >= c->deadline && !c->delayed) expired.push_back(key);
    return expired;
}

// A connection past its idle deadline, about to be closed. One that has not completed a request (or read any
// of its response) within the idle timeout gets a 408 (if its socket takes it now: never waited for): this is
// what keeps slowloris clients from piling up forever. Returns what the log says of the close (nothing for a
// connection that was lingering).
inline const char* time_out(const HttpConnection& c) {
    if (!c.lingering && !c.out) {
        const Response response = timeout_response();
        [[maybe_unused]] auto ignored =
            ::send(c.fd.get(), response.head.data(), response.head.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    return c.lingering ? nullptr : c.out ? "dropped: the client stopped reading" : "timed out (408)";
}

// A loop's clock: the -d timers, each under the key the loop finds its connection by, and the idle scan
// every kScanInterval.
template <class Key>
class LoopTimers {
public:
    void add(Clock::time_point when, Key key) { timers_.emplace(when, key); }

    // When the loop must wake up at the latest: the first timer, or the next idle scan.
    Clock::time_point wake() const {
        return timers_.empty() ? next_scan_ : std::min(next_scan_, timers_.begin()->first);
    }

    // Moves on (advance(c)) each delayed connection of `connections` whose timer is due by `now`. A timer whose
    // connection has gone, or has since been given another delay, does nothing.
    template <class Connections, class Advance>
    void run_due(Clock::time_point now, Connections& connections, Advance advance) {
        while (!timers_.empty() && timers_.begin()->first <= now) {
            const auto [when, key] = *timers_.begin();
            timers_.erase(timers_.begin());
            const auto it = connections.find(key);
            if (it != connections.end() && it->second->delayed && it->second->delay_until == when) advance(*it->second);
        }
    }

    // True once every kScanInterval: time to close the idle connections.
    bool scan_due(Clock::time_point now) {
        if (now < next_scan_) return false;
        next_scan_ = now + kScanInterval;
        return true;
    }

private:
    std::multimap<Clock::time_point, Key> timers_;
    Clock::time_point next_scan_ = Clock::now() + kScanInterval;
};

// `--workers N`: N loops of one kind (constructed from their index, their listener, the settings and the stop
// pipe), each in its own thread with its own SO_REUSEPORT listener on the same port, as nginx runs its worker
// processes; the first gets the listener main opened and runs in this thread. A loop that fails stops them
// all; its exception is rethrown once every thread is joined.
template <class Loop>
void run_loops(netutil::UniqueFd listener, uint16_t port, const Settings& settings, const netutil::StopPipe& stop) {
    std::vector<std::unique_ptr<Loop>> loops;
    loops.push_back(std::make_unique<Loop>(0, std::move(listener), settings, stop.fd()));
    for (int i = 1; i < settings.workers; ++i)
        loops.push_back(
            std::make_unique<Loop>(i, netutil::tcp_listen(settings.bind_address, port, true), settings, stop.fd()));

    std::vector<std::thread> threads;
    std::exception_ptr failure;
    std::mutex failure_mutex;
    const auto run = [&](size_t i) {
        try {
            loops[i]->run();
        } catch (...) {
            const std::lock_guard lock(failure_mutex);
            failure = std::current_exception();
            stop.request_stop();
        }
    };
    for (size_t i = 1; i < loops.size(); ++i) threads.emplace_back(run, i);
    run(0);
    for (auto& thread : threads) thread.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace web
