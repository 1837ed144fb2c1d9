// 05_prethread/thread_per_client.cpp: one thread per client (UNP's serv06; the table's "Thread per client
// req"). The main thread accepts; each connection gets a new thread that serves it and ends.
//
// Watch for: a thread costs far less to create than a process (compare 04's `--mode fork` in the
// table), but still something per connection. Finished threads are joined by the main thread, not
// detached. Limit: at most --max-clients threads serve at once; above it the main thread stops accepting
// (clients wait in the backlog) and says so once. A thread that cannot be started (the system's limits)
// costs only its client, closed unanswered.
#include "05_prethread/models.hpp"

#include "netutil/io.hpp"
#include "netutil/output.hpp"

#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>

namespace prethread {

namespace {

// The threads serving clients now, and those finished but not yet joined. Owns the threads.
class ClientThreads {
public:
    // Starts a thread running `body`. If the thread cannot be made (std::system_error, e.g. EAGAIN: too
    // many threads for the limits), nothing is kept and `body` (with what it owns) is destroyed.
    template <typename Body>
    void start(Body body) {
        const std::lock_guard lock(mutex_);
        auto entry = threads_.emplace(threads_.end());
        try {
            entry->thread = std::thread([this, entry, body = std::move(body)]() mutable {
                body();
                const std::lock_guard done_lock(mutex_);
                entry->done = true;
                --active_;
                changed_.notify_all();
            });
        } catch (...) {
            threads_.erase(entry);
            throw;
        }
        ++active_;
    }
    // Joins the finished threads; with `wait_below` > 0, first waits until fewer than that many are serving.
    void join_finished(int wait_below = 0) {
        std::list<Entry> finished;
        {
            std::unique_lock lock(mutex_);
            if (wait_below > 0) changed_.wait(lock, [&] { return active_ < wait_below; });
            for (auto it = threads_.begin(); it != threads_.end();) {
                auto next = std::next(it);
                if (it->done) finished.splice(finished.end(), threads_, it);
                it = next;
            }
        }
        for (auto& entry : finished) entry.thread.join();
    }
    int active() {
        const std::lock_guard lock(mutex_);
        return active_;
    }
    void join_all() {
        std::list<Entry> all;
        {
            const std::lock_guard lock(mutex_);
            all.splice(all.end(), threads_);
        }
        for (auto& entry : all) entry.thread.join();
    }

private:
    struct Entry {
        std::thread thread;
        bool done = false;
    };
    std::mutex mutex_;
    std::condition_variable changed_;
    std::list<Entry> threads_;
    int active_ = 0;
};

}  // namespace

void run_thread_per_client(Server& server) {
    ClientThreads threads;
    long started = 0;
    bool said_full = false;
    bool said_no_thread = false;
    for (;;) {
        if (threads.active() >= server.settings.max_clients) {
            if (!said_full)
                netutil::print_line("max-clients " + std::to_string(server.settings.max_clients) +
                                    " reached: new clients wait in the backlog until a thread ends");
            said_full = true;
            threads.join_finished(server.settings.max_clients);  // ends soon on Ctrl-C: the threads stop too
        }
        if (netutil::wait_readable(server.listener.get(), server.stop.fd()) == netutil::Wait::Stopped) break;
        netutil::UniqueFd client = byte_count::accept_or_wait(server.listener.get(), "main thread");
        if (!client) continue;
        const long number = started;
        try {
            threads.start([&server, number, client = std::move(client)] {
                server.serve(client.get(), "thread " + std::to_string(number));
            });
            ++started;
        } catch (const std::system_error& error) {
            // No thread for this client: it is closed unanswered (never answered wrongly), the server
            // carries on, and waits a moment so that the clients behind it queue instead of being refused.
            if (!said_no_thread)
                netutil::print_line(std::string("main thread: cannot start a thread (") + error.what() +
                                    "): client closed, waiting for threads to end");
            said_no_thread = true;
            threads.join_finished();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        said_no_thread = false;
        threads.join_finished();
    }
    threads.join_all();
    byte_count::print_summary(netutil::caught_signal(), {},
                              "threads started: " + std::to_string(started) + ", one connection each", started,
                              kCpuNote);
}

}  // namespace prethread
