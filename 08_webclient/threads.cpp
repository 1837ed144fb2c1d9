// 08_webclient/threads.cpp: the modes with one process: iterative (the baseline), a thread per connection
// (the handout's `-c thread`), and our own thread pool with a bounded queue (`-c thread-pool`).
//
// In every mode the main thread is the acceptor: it waits on the listening socket and on the stop pipe at
// once, so Ctrl-C stops the accepting at the next instant; the handlers then finish their connections
// (serve_connection watches the same pipe) and main joins every thread before returning.
#include "models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/text.hpp"

#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <poll.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace web {

namespace {

// Waits until the listening socket has a client (true) or the stop pipe is readable (false). `extra_fd`
// (-1: none) also ends the wait, returning true, so the caller can look at what it signals.
bool wait_for_client(int listen_fd, int stop_fd, int extra_fd = -1, bool watch_listener = true) {
    for (;;) {
        pollfd fds[3] = {{stop_fd, POLLIN, 0}, {watch_listener ? listen_fd : -1, POLLIN, 0}, {extra_fd, POLLIN, 0}};
        const int n = ::poll(fds, 3, -1);
        if (n == -1 && errno == EINTR) continue;
        if (n == -1) netutil::throw_errno("poll");
        if (fds[0].revents & POLLIN) return false;
        return true;
    }
}

ConnectionInfo new_connection(const netutil::SockAddr& peer) {
    return ConnectionInfo{++shared_stats().connections, peer.to_string()};
}

void serve_safely(netutil::UniqueFd client, const ConnectionInfo& connection, const Worker& worker,
                  const Settings& settings, int stop_fd) {
    try {
        serve_connection(std::move(client), connection, worker, settings, stop_fd);
    } catch (const std::exception& error) {
        netutil::print_error("server: connection " + std::to_string(connection.id) + ": " + error.what());
    }
}

}  // namespace

// One client at a time: while one is served, the others wait in the listening socket's backlog.
void run_iterative(int listen_fd, const Settings& settings, const netutil::StopPipe& stop) {
    Acceptor acceptor;
    const Worker worker{0, "main"};
    while (wait_for_client(listen_fd, stop.fd())) {
        netutil::SockAddr peer;
        netutil::UniqueFd client = acceptor.accept(listen_fd, &peer);
        if (client) serve_safely(std::move(client), new_connection(peer), worker, settings, stop.fd());
    }
}

// A thread per connection. Each handler, when done, counts itself out on an eventfd; main wakes up on it
// and joins the finished threads, so none is ever detached and forgotten. At --max-clients handlers, main
// stops accepting: new clients wait in the backlog until a handler finishes.
void run_thread_per_connection(int listen_fd, const Settings& settings, const netutil::StopPipe& stop) {
    // BEGIN SOLUTION 08.1 "a thread per connection, joined"
    struct Handler {
        std::thread thread;
        std::atomic<bool> done{false};
    };
    std::list<Handler> handlers;
    const netutil::UniqueFd finished(netutil::check(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd"));
    Acceptor acceptor;
    uint64_t next_thread = 0;
    bool said_full = false;

    const auto join_finished = [&] {
        uint64_t count;
        [[maybe_unused]] auto ignored = ::read(finished.get(), &count, sizeof count);
        for (auto it = handlers.begin(); it != handlers.end();) {
            if (it->done.load()) {
                it->thread.join();
                it = handlers.erase(it);
            } else {
                ++it;
            }
        }
    };

    const auto start_handler = [&](Handler& handler, const Worker& worker, int fd, const netutil::SockAddr& peer) {
        handler.thread =
            std::thread([&settings, &stop, &handler, &finished, worker, connection = new_connection(peer), fd] {
                serve_safely(netutil::UniqueFd(fd), connection, worker, settings, stop.fd());
                handler.done = true;
                const uint64_t one = 1;
                [[maybe_unused]] auto ignored = ::write(finished.get(), &one, sizeof one);
            });
    };

    for (;;) {
        const bool full = static_cast<int>(handlers.size()) >= settings.max_clients;
        if (full && !said_full) {
            netutil::print_line("server: " + netutil::count(settings.max_clients, "client") +
                                " connected (--max-clients): new clients wait in the backlog");
            said_full = true;
        }
        if (!wait_for_client(listen_fd, stop.fd(), finished.get(), !full)) break;
        join_finished();
        if (full) continue;
        netutil::SockAddr peer;
        netutil::UniqueFd client = acceptor.accept(listen_fd, &peer);
        if (!client) continue;
        Handler& handler = handlers.emplace_back();
        const Worker worker{0, "thread " + std::to_string(++next_thread)};
        const int fd = client.release();  // the handler thread owns it from here
        try {
            start_handler(handler, worker, fd, peer);
        } catch (const std::system_error& error) {
            // No thread to be had (EAGAIN: out of threads or memory): this client only is refused.
            ::close(fd);
            handlers.pop_back();
            netutil::print_error(std::string("server: cannot start a thread: ") + error.what() + " (client dropped)");
        }
    }
    for (auto& handler : handlers) handler.thread.join();
    // END SOLUTION
    // BEGIN STUB
    // // TODO (assignment 1, -c thread): accept clients on `listen_fd` (an Acceptor, wait_for_client) and serve
    // // each in a thread of its own (serve_safely), so that no client waits behind another. Keep every thread you
    // // start: finished ones are joined as you go, and once `stop` is readable (Ctrl-C) stop accepting, let the
    // // handlers finish the requests already accepted, and join every one before returning.
    // (void)listen_fd;
    // (void)settings;
    // (void)stop;
    // netutil::not_implemented("08.1");
    // END STUB
}

// BEGIN SOLUTION 08.2 "the thread pool's queue"
namespace {

// The thread pool's queue of accepted connections. Bounded: when it is full, the acceptor waits, and new
// clients wait in the listening socket's backlog, instead of piling up descriptors in memory.
// Owns: the queued descriptors. Any thread may call it.
class ConnectionQueue {
public:
    struct Item {
        netutil::UniqueFd client;
        ConnectionInfo connection;
    };

    explicit ConnectionQueue(size_t capacity) : capacity_(capacity) {}

    // Waits (at most `timeout`) for room; false if the queue is still full.
    bool wait_for_room(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return not_full_.wait_for(lock, timeout, [&] { return items_.size() < capacity_; });
    }
    void push(Item item) {
        {
            const std::lock_guard lock(mutex_);
            items_.push_back(std::move(item));
        }
        not_empty_.notify_one();
    }
    // The next connection; std::nullopt once closed and empty (what was queued is still served).
    std::optional<Item> pop() {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
        if (items_.empty()) return std::nullopt;
        Item item = std::move(items_.front());
        items_.pop_front();
        lock.unlock();
        not_full_.notify_one();
        return item;
    }
    void close() {
        {
            const std::lock_guard lock(mutex_);
            closed_ = true;
        }
        not_empty_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable not_empty_, not_full_;
    std::deque<Item> items_;
    size_t capacity_;
    bool closed_ = false;
};

}  // namespace

// END SOLUTION
// BEGIN STUB
// // (room for the thread pool's queue of accepted connections)
// END STUB

// N threads started once, each taking connections from the queue main fills. A pool member serves one
// connection at a time, so the idle timeout is what keeps slow or silent clients from holding it forever.
void run_thread_pool(int listen_fd, const Settings& settings, const netutil::StopPipe& stop) {
    // BEGIN SOLUTION 08.2 "a thread pool"
    ConnectionQueue queue(static_cast<size_t>(settings.threads));
    std::vector<std::thread> pool;
    for (int i = 0; i < settings.threads; ++i) {
        pool.emplace_back([&, i] {
            const Worker worker{i, "pool thread " + std::to_string(i)};
            while (auto item = queue.pop())
                serve_safely(std::move(item->client), item->connection, worker, settings, stop.fd());
        });
    }
    Acceptor acceptor;
    try {
        for (;;) {
            while (!queue.wait_for_room(std::chrono::milliseconds(100)))
                if (stop.stop_requested()) break;
            if (!wait_for_client(listen_fd, stop.fd())) break;
            netutil::SockAddr peer;
            netutil::UniqueFd client = acceptor.accept(listen_fd, &peer);
            if (client) queue.push({std::move(client), new_connection(peer)});
        }
    } catch (...) {
        queue.close();
        for (auto& thread : pool) thread.join();
        throw;
    }
    queue.close();
    for (auto& thread : pool) thread.join();
    // END SOLUTION
    // BEGIN STUB
    // // TODO (extra credit, -c thread-pool): settings.threads threads started once, taking accepted connections
    // // from a bounded queue that main fills; the number of threads never grows with the clients. Ctrl-C: the
    // // queued connections are still served, then every thread is joined.
    // (void)listen_fd;
    // (void)settings;
    // (void)stop;
    // netutil::not_implemented("08.2");
    // END STUB
}

}  // namespace web
