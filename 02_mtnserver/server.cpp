// 02_mtnserver/server.cpp: n handler threads serve m client requests; a manager restarts each handler
// as soon as it has handled its request, until m requests are handled.
//
// Mirrors: the lecture "Multithreaded Servers" (MCS 275 lecture 32), slide "n Handler Threads for m Client
// Requests" (mtnserver.py: main(), restart(), manage()). The default manager is the "ndone" pattern of the
// lecture "Network Programming" (UNP's threaded web client: a finished thread signals a condition variable,
// the main thread joins it); `--poll SECONDS` runs the slide's polling manager.
//
// Watch for: a thread cannot be restarted, so the manager joins the finished one and starts a new thread
// under the same name (slot). Only the manager counts requests, so the counter needs no lock; the counts
// always add up to m. The polling manager prints `0 is alive, cnt = 0` lines and notices a finished handler
// up to SECONDS late; the condition-variable manager wakes the moment a handler finishes.
//
// Demo (several terminals):
//   ./server 11267 3 7          or just ./server, and answer the two prompts (3, then 7)
//   ./server 11267 3 7 --poll 2 the slide's polling manager
//   ./client --message 1        one request per connection; or ./client --count 7 for seven
// See also: client.cpp (the peer), ../01_mtserver (handlers that each serve one client, no manager).
#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint16_t kDefaultPort = 11267;
constexpr size_t kBufferSize = 80;         // the slide's Handler(str(i), server, 80): 80 bytes per recv
constexpr size_t kMaxMessage = 64 * 1024;  // a longer message is cut off here, and the handler says so
constexpr long kMaxHandlers = 1000;
constexpr long kMaxRequests = 1000000000;

struct Settings {
    uint16_t port = kDefaultPort;
    long nclients = 0;         // n; 0: asked on stdin
    long nrequests = 0;        // m; 0: asked on stdin
    double poll_seconds = 0;   // --poll: the slide's polling manager; 0: the condition variable
    double grace_seconds = 5;  // after Ctrl-C, how long an accepted client may still take to send
    std::string bind_address = netutil::kAnyAddress;
};
Settings parse_settings(int argc, char** argv);

std::chrono::milliseconds milliseconds(double seconds) {
    return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

// What became of one handler thread.
enum class Outcome {
    Handled,  // it accepted a client and dealt with its request (a message, nothing, or a failure)
    Stopped,  // Ctrl-C came while it still waited for a client: no request was taken
};

// The ndone pattern: a handler that is done appends its slot to `finished` and signals `changed`; the
// manager sleeps on `changed` until there is something to join. Owned by main, shared by every thread.
struct DoneBoard {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<int> finished;  // slots whose thread has returned and is waiting to be joined
};

// One handler slot: the thread currently running under this name and what it reported.
// `outcome` is written by the handler before it sets `done`; the manager reads it after seeing `done`
// (or after join), so the atomic flag orders the two.
struct Slot {
    std::thread thread;
    std::atomic<bool> done{false};
    Outcome outcome = Outcome::Handled;
    long served = 0;  // requests this slot's threads have handled, for the summary (manager only)
};

struct Shared {
    int listen_fd;
    const netutil::StopPipe& stop;
    std::chrono::milliseconds grace;  // after Ctrl-C, how long an accepted client may still take to send
    DoneBoard& board;
};

// The slide's Handler.run(): accept one client, print, receive its message, print it, return. A request
// that was accepted is never dropped by Ctrl-C: the handler still waits for the client's message, but only
// for the grace period.
Outcome handle_request(const std::string& name, const Shared& shared) {
    netutil::SockAddr peer;
    const netutil::UniqueFd client = netutil::accept_unless_stopped(shared.listen_fd, shared.stop.fd(), &peer);
    if (!client) {
        netutil::print_line(name + " stops (was waiting for a client)");
        return Outcome::Stopped;
    }
    netutil::print_line(name + " accepted request from " + peer.to_string());
    netutil::print_line(name + " waits for data");

    const netutil::Message message =
        netutil::receive_message(client.get(), shared.stop.fd(), shared.grace, kBufferSize, kMaxMessage);
    if (message.status == netutil::Message::Status::Stopped) {
        netutil::print_line(name + " gave up on its client: no message within the grace period");
        return Outcome::Handled;
    }
    if (message.status == netutil::Message::Status::CutOff)
        netutil::print_line(name + " cut the message off at " + std::to_string(kMaxMessage) + " bytes");
    if (message.text.empty())
        netutil::print_line(name + " received nothing (the client closed without sending)");
    else
        netutil::print_line(name + " received " + message.text);
    return Outcome::Handled;  // the connection closes here: the client sees EOF, its request was taken
}

// The body of every handler thread: handle one request, report, end. A failure (a reset connection)
// ends this request only; it still counts as handled, since a client was taken from the queue.
void run_handler(int slot_index, Slot& slot, const Shared& shared) {
    const std::string name = std::to_string(slot_index);
    try {
        slot.outcome = handle_request(name, shared);
    } catch (const std::system_error& error) {
        netutil::print_line(name + " failed: " + error.what());
        slot.outcome = Outcome::Handled;
    }
    slot.done.store(true, std::memory_order_release);
    const std::lock_guard lock(shared.board.mutex);
    shared.board.finished.push_back(slot_index);
    shared.board.changed.notify_one();
}

// The requests still to be started and handled. Only the manager (main thread) touches it.
struct Tally {
    long requests;  // m
    long started;   // handler threads started so far (each takes at most one request)
    long cnt = 0;   // requests handled: the slide's cnt
};

class Manager {
public:
    Manager(std::vector<Slot>& slots, const Shared& shared, long requests)
        : slots_(slots), shared_(shared), tally_{requests, 0} {}

    void start_all() {
        netutil::print_line("server starts " + netutil::count(slots_.size(), "thread"));
        for (size_t i = 0; i < slots_.size(); ++i) start(static_cast<int>(i));
    }

    // The slide's restart(): a thread cannot be restarted, so join the finished one and start a new
    // thread in its place, under the same name.
    void start(int i) {
        Slot& slot = slots_[static_cast<size_t>(i)];
        if (slot.thread.joinable()) slot.thread.join();
        slot.done.store(false, std::memory_order_relaxed);
        slot.thread = std::thread(run_handler, i, std::ref(slot), std::cref(shared_));
        ++tally_.started;
        ++live_;
    }

    // A finished handler: join it, count its request, and restart it while requests remain. The slide's
    // condition `cnt <= mrq - nbr` is `started < m` here: exactly m handler threads are ever started.
    void retire(int i) {
        // BEGIN SOLUTION 02.1 "retire: join the finished handler, count its request, restart it"
        Slot& slot = slots_[static_cast<size_t>(i)];
        slot.thread.join();
        --live_;
        if (slot.outcome == Outcome::Handled) {
            ++tally_.cnt;
            ++slot.served;
            netutil::print_line(std::to_string(i) + " handled request " + std::to_string(tally_.cnt));
        }
        if (tally_.started < tally_.requests && !shared_.stop.stop_requested()) {
            netutil::print_line("restarting " + std::to_string(i));
            start(i);
        }
        // END SOLUTION
        // BEGIN STUB
        // // TODO (02.1): join slot i's finished thread (--live_), count its request in tally_.cnt and
        // // slot.served when its outcome is Handled, and restart it with start(i) only while fewer than m
        // // threads were started in all and no stop was requested: exactly m handler threads, ever.
        // (void)i;
        // netutil::not_implemented("02.1");
        // END STUB
    }

    // The default manager: sleeps on the condition variable, wakes when a handler is done.
    void manage_with_condition_variable() {
        // BEGIN SOLUTION 02.1 "the manager: sleep on the condition variable, retire each finished handler"
        while (live_ > 0) {
            std::deque<int> finished;
            {
                std::unique_lock lock(shared_.board.mutex);
                shared_.board.changed.wait(lock, [&] { return !shared_.board.finished.empty(); });
                finished.swap(shared_.board.finished);
            }
            for (int i : finished) retire(i);
        }
        // END SOLUTION
        // BEGIN STUB
        // // TODO (02.1): while handlers are live (live_ > 0), sleep on shared_.board.changed until
        // // shared_.board.finished is not empty (under shared_.board.mutex), take the finished slots out, and
        // // retire each one outside the lock. (Or poll as the slide does: call manage_by_polling with a
        // // short period, once you have written it.)
        // netutil::not_implemented("02.1");
        // END STUB
    }

    // The slide's manage(): every `period`, look at each thread; alive ones are reported, a finished one
    // is counted and restarted. A handler done just after a look waits up to a whole period to be noticed.
    void manage_by_polling(std::chrono::milliseconds period) {
        // BEGIN SOLUTION 02.1 "the slide's manage(): poll every period, retire each finished handler"
        while (live_ > 0) {
            if (netutil::wait_readable(shared_.stop.fd(), -1, static_cast<int>(period.count())) ==
                netutil::Wait::Ready) {
                // Ctrl-C: no more sleeping, just collect the handlers as they stop.
                for (size_t i = 0; i < slots_.size(); ++i)
                    if (slots_[i].thread.joinable()) retire(static_cast<int>(i));
                break;
            }
            for (size_t i = 0; i < slots_.size(); ++i) {
                Slot& slot = slots_[i];
                if (!slot.thread.joinable()) continue;  // the slide's `dead` list: never restarted
                if (!slot.done.load(std::memory_order_acquire))
                    netutil::print_line(std::to_string(i) + " is alive, cnt = " + std::to_string(tally_.cnt));
                else
                    retire(static_cast<int>(i));
            }
        }
        const std::lock_guard lock(shared_.board.mutex);
        shared_.board.finished.clear();  // the polling manager does not use the board
        // END SOLUTION
        // BEGIN STUB
        // // TODO (02.1, --poll, optional): the slide's manage(): while handlers are live, wait `period` (or
        // // until the stop pipe is readable: then retire every joinable slot and return); at each look, print
        // // `I is alive, cnt = C` for a running handler and retire a done one (slot.done, acquire).
        // (void)period;
        // netutil::not_implemented("02.1");
        // END STUB
    }

    const Tally& tally() const { return tally_; }

private:
    std::vector<Slot>& slots_;
    const Shared& shared_;
    Tally tally_;
    long live_ = 0;  // threads started and not yet joined
};

}  // namespace

int main(int argc, char** argv) {
    Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        netutil::UniqueFd listener = netutil::tcp_listen(settings.bind_address, settings.port);
        netutil::set_nonblocking(listener.get());
        netutil::print_listening(listener.get());

        if (settings.nclients == 0)
            settings.nclients =
                netutil::prompt_number("give the number of clients : ", "the number of clients", 1, kMaxHandlers);
        if (settings.nrequests == 0)
            settings.nrequests =
                netutil::prompt_number("give the number of requests : ", "the number of requests", 1, kMaxRequests);
        netutil::print_line("server is ready for " + netutil::count(settings.nclients, "client"));
        // The slide assumes m > n. With fewer requests than handlers, only m handlers are started: every
        // handler takes one request, so more would accept clients the server never counts.
        const long nthreads = std::min(settings.nclients, settings.nrequests);
        if (nthreads < settings.nclients)
            netutil::print_line("only " + netutil::count(settings.nrequests, "request") +
                                ", one per handler: " + netutil::count(nthreads, "thread") +
                                (nthreads == 1 ? " is" : " are") + " enough, not " + std::to_string(settings.nclients));

        // Ctrl-C, SIGTERM or SIGHUP (the terminal closed: the same graceful stop) only writes a byte into
        // `stop` (async-signal-safe); the handlers do the rest. Started under nohup, SIGHUP stays ignored.
        const netutil::StopPipe stop;
        netutil::stop_on_signals(stop, {SIGINT, SIGTERM, SIGHUP});

        DoneBoard board;
        const Shared shared{listener.get(), stop, milliseconds(settings.grace_seconds), board};
        std::vector<Slot> slots(static_cast<size_t>(nthreads));
        Manager manager(slots, shared, settings.nrequests);
        manager.start_all();
        if (settings.poll_seconds > 0)
            manager.manage_by_polling(milliseconds(settings.poll_seconds));
        else
            manager.manage_with_condition_variable();
        listener.reset();

        // Every thread has been joined: the summary, per handler, adding up to the total.
        const Tally& tally = manager.tally();
        std::string per_handler;
        for (size_t i = 0; i < slots.size(); ++i)
            per_handler += (i == 0 ? "" : ", ") + std::to_string(i) + ": " + std::to_string(slots[i].served);
        if (const int signo = netutil::caught_signal(); signo != 0)
            netutil::print_line("server stopped by " + netutil::signal_name(signo) + " after " +
                                std::to_string(tally.cnt) + " of " + netutil::count(tally.requests, "request") +
                                ", every handler joined");
        netutil::print_line("server handled " + netutil::count(tally.cnt, "request") + " (per handler " + per_handler +
                            ")");
        return 0;
    });
}

namespace {

// PORT, n and m (0 when missing: main asks), the manager (--poll), --grace and --bind; the limits are in
// the README, not --help.
Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "n handler threads for m client requests (lecture 32, section 3): NCLIENTS handler threads each\n"
        "accept one client and print its message (up to a newline or the client closing); a manager\n"
        "restarts each finished handler until NREQUESTS requests are handled, then the server exits.\n"
        "Ctrl-C, SIGTERM or SIGHUP stop it early: a summary, exit 0."};
    int port = kDefaultPort;  // checked as an int (0 to 65535), then narrowed into settings.port
    Settings settings;
    app.add_option("PORT", port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    app.add_option("NCLIENTS", settings.nclients,
                   "n: number of handler threads, 1 to 1000\n"
                   "(asked on stdin when missing)")
        ->check(netutil::whole_number(1, kMaxHandlers).description(""));
    app.add_option("NREQUESTS", settings.nrequests,
                   "m: requests to handle before exiting,\n"
                   "1 to 10^9 (asked on stdin when missing)")
        ->check(netutil::whole_number(1, kMaxRequests).description(""));
    app.add_option("--poll", settings.poll_seconds,
                   "run the slide's polling manager, looking at the threads\n"
                   "every SECONDS, 0.001 to 60 (default: no polling, a condition\n"
                   "variable wakes the manager)")
        ->check(netutil::real_number(0.001, 60.0).description(""));
    app.add_option("--grace", settings.grace_seconds,
                   "after Ctrl-C, SIGTERM or SIGHUP: seconds (0 to 600) a client\n"
                   "already accepted may still take to send its message")
        ->capture_default_str()
        ->check(netutil::real_number(0.0, 600.0).description(""));
    app.add_option("--bind", settings.bind_address,
                   "address to listen on (:: is every address, IPv6 and IPv4; 0.0.0.0 is IPv4 only)")
        ->capture_default_str();
    netutil::parse_or_exit(app, argc, argv);
    settings.port = static_cast<uint16_t>(port);
    return settings;
}

}  // namespace
