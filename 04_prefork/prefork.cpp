// 04_prefork/prefork.cpp: the preforked servers whose children call accept() themselves (UNP's serv02,
// serv03, serv04; the lecture's "Preforking or Process Pool", "Thundering Herd", "Locking Around accept"),
// and Apache's hybrid of processes and threads (the lecture's "Concurrency in Apache").
//
//   nolock  N children all call accept() on the one listening socket, with no lock; the kernel hands each
//           new connection to one of them. Linux wakes only one task asleep in accept() (an exclusive
//           wait), so the slide's herd is gone there. With --wait poll they wait in poll() instead, then
//           accept() without blocking, the way event-driven servers wait: poll() wakes every child for each
//           connection, as the lecture's kernels did for accept(): the first to accept gets it, the others
//           go back to sleep (most inside poll(), some after an accept() that finds nothing, EAGAIN): the
//           thundering herd.
//   flock   each child takes an fcntl() record lock on a file around accept(), so one child at a time
//           waits in accept() and the others wait for the lock.
//   mutex   the same with a pthread mutex in memory shared by all the children (mmap MAP_SHARED,
//           PTHREAD_PROCESS_SHARED), as the slide does. It is also PTHREAD_MUTEX_ROBUST: a child killed
//           while holding it does not freeze the pool; the next child to lock it gets EOWNERDEAD and makes
//           it consistent again. (A killed child's fcntl lock is released by the kernel.)
//   hybrid  Apache's worker design: N children of T threads each. fcntl() locks belong to processes, so a
//           child's threads first take a mutex of their own, then the fcntl lock, then accept().
// The parent only forks the children, replaces any that dies, and stops them on Ctrl-C. Each child counts
// in shared memory its connections and its wake-ups (each time it was woken while waiting for one), so
// the parent can print how the kernel spread the load and how many wake-ups each connection cost.
#include "04_prefork/models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace prefork {

namespace {

// What one worker (a child, or a thread of a hybrid child) counts: written by that worker only.
struct Counts {
    std::atomic<long> connections{0};
    std::atomic<long> wakeups{0};  // times it was woken while waiting for a connection (or for the lock)
};
static_assert(std::atomic<long>::is_always_lock_free, "counters in shared memory must be lock-free");

// Memory shared by the parent and every child (mmap MAP_SHARED survives fork): the accept mutex and the
// counts of every worker, slot by slot (a hybrid child's threads one after the other).
struct Shared {
    pthread_mutex_t accept_mutex;
    Counts* counts;                     // nchildren x threads, right after this struct in the same mapping
    std::atomic<bool> stopping{false};  // set by the parent as it stops, before the stop pipe and SIGTERM
};
static_assert(std::atomic<bool>::is_always_lock_free, "a flag in shared memory must be lock-free");

Shared* map_shared(int workers) {
    const size_t size = sizeof(Shared) + sizeof(Counts) * static_cast<size_t>(workers);
    void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) netutil::throw_errno("mmap");
    auto* shared = new (memory) Shared{};
    auto* counts = reinterpret_cast<Counts*>(static_cast<char*>(memory) + sizeof(Shared));
    for (int i = 0; i < workers; ++i) new (&counts[i]) Counts{};
    shared->counts = counts;
    return shared;
}

// A pthread call's result: 0, or the error number (pthreads do not set errno).
[[maybe_unused]] void checked(int rc, const char* what) {
    if (rc != 0) netutil::throw_error(rc, what);
}

// The lock around accept(): none, an fcntl record lock, or the shared pthread mutex.
class AcceptLock {
public:
    AcceptLock(Model model, Shared* shared) : model_(model), mutex_(&shared->accept_mutex) {
        // BEGIN SOLUTION 04.1 "the accept lock: made once, before the children are forked"
        if (model_ == Model::Flock || model_ == Model::Hybrid) {
            // UNP's my_lock_init: a temporary file, unlinked at once; only its lock matters.
            char path[] = "/tmp/prefork-lock.XXXXXX";
            file_.reset(netutil::check(::mkostemp(path, O_CLOEXEC), "mkostemp /tmp/prefork-lock.XXXXXX"));
            ::unlink(path);
        } else if (model_ == Model::Mutex) {
            pthread_mutexattr_t attr;
            checked(::pthread_mutexattr_init(&attr), "pthread_mutexattr_init");
            checked(::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), "pthread_mutexattr_setpshared");
            checked(::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST), "pthread_mutexattr_setrobust");
            const int rc = ::pthread_mutex_init(mutex_, &attr);
            checked(::pthread_mutexattr_destroy(&attr), "pthread_mutexattr_destroy");
            checked(rc, "pthread_mutex_init");
        }
        // END SOLUTION
        // BEGIN STUB
        // // TODO (assignment 1): make the lock the children share, before any is forked. flock, hybrid: a file
        // // whose fcntl() record lock is the lock (file_); mutex: a pthread mutex in the shared memory (mutex_),
        // // PTHREAD_PROCESS_SHARED, and robust, so that a child killed while holding it cannot freeze the pool.
        // if (model_ != Model::NoLock) netutil::not_implemented("04.1");
        // END STUB
    }

    // Returns true if the mutex's last owner died holding it (EOWNERDEAD), which this call repaired.
    bool lock() {
        // BEGIN SOLUTION 04.1 "taking the accept lock"
        if (model_ == Model::Flock || model_ == Model::Hybrid) {
            struct flock lock {};
            lock.l_type = F_WRLCK;
            lock.l_whence = SEEK_SET;
            while (::fcntl(file_.get(), F_SETLKW, &lock) == -1)
                if (errno != EINTR) netutil::throw_errno("fcntl F_SETLKW");
        } else if (model_ == Model::Mutex) {
            const int rc = ::pthread_mutex_lock(mutex_);
            if (rc == EOWNERDEAD) {
                // Its last owner died holding it. What it guarded (the right to accept) has no state to
                // repair, so the mutex is simply declared consistent again.
                checked(::pthread_mutex_consistent(mutex_), "pthread_mutex_consistent");
                return true;
            }
            checked(rc, "pthread_mutex_lock");
        }
        // END SOLUTION
        // BEGIN STUB
        // // TODO (assignment 1): wait until this child (flock, hybrid: this process) holds the lock: F_SETLKW on
        // // file_, or pthread_mutex_lock on *mutex_. Return true if the mutex's last owner died holding it
        // // (EOWNERDEAD), after making it consistent again.
        // END STUB
        return false;
    }

    void unlock() {
        // BEGIN SOLUTION 04.1 "releasing the accept lock"
        if (model_ == Model::Flock || model_ == Model::Hybrid) {
            struct flock lock {};
            lock.l_type = F_UNLCK;
            lock.l_whence = SEEK_SET;
            netutil::check(::fcntl(file_.get(), F_SETLK, &lock), "fcntl F_UNLCK");
        } else if (model_ == Model::Mutex) {
            checked(::pthread_mutex_unlock(mutex_), "pthread_mutex_unlock");
        }
        // END SOLUTION
        // BEGIN STUB
        // // TODO (assignment 1): release what lock() took (F_UNLCK, or pthread_mutex_unlock).
        // END STUB
    }

private:
    Model model_;
    pthread_mutex_t* mutex_;
    netutil::UniqueFd file_;  // flock, hybrid: the lock file, shared by all children (fcntl locks belong to processes)
};

// The accept probe of assignment 04.1 (README, "Assignments"): with PREFORK_ACCEPT_PROBE=1 in the
// environment, each worker writes `accept enter ID` right before accept() and `accept leave ID` right
// after it returns (ID: the child's PID; in a hybrid child PID.TID), each line one write(2) to standard
// output, so the lines of all the children come in the order of the events. With the accept lock the
// lines alternate, enter and leave of one worker; without it several children enter before one leaves.
void probe_accept(const char* what) {
    static const bool enabled = [] {
        const char* value = std::getenv("PREFORK_ACCEPT_PROBE");
        return value != nullptr && *value != '\0' && std::string(value) != "0";
    }();
    if (!enabled) return;
    std::string id = std::to_string(::getpid());
    if (::gettid() != ::getpid()) id += "." + std::to_string(::gettid());
    netutil::print_line(std::string("accept ") + what + " " + id);
}

// Waits for the next connection and accepts it. nolock --wait poll: asleep in poll() with every other idle
// child, then accept() without blocking: empty if another child was quicker (EAGAIN). Otherwise the child
// waits in accept() itself (with a lock, the one child holding it). `peer` receives the client's address.
netutil::UniqueFd wait_and_accept(const Server& server, const std::string& who, netutil::SockAddr& peer) {
    if (server.settings.wait == Wait::Poll) {
        pollfd pfd{server.listener.get(), POLLIN, 0};
        if (::poll(&pfd, 1, -1) == -1) {
            if (errno != EINTR) netutil::throw_errno("poll");
            return {};  // wait again
        }
    }
    probe_accept("enter");
    netutil::UniqueFd client = byte_count::accept_or_wait(server.listener.get(), who, &peer);
    probe_accept("leave");
    return client;
}

// The wake-ups of the calling thread: each time it went to sleep (a voluntary context switch) and was
// woken again. Read before and after its wait for a connection, the difference counts every wake-up,
// also those the kernel absorbs: poll() woken for a connection another child took goes back to sleep
// inside the kernel, without returning. Waiting for a lock counts too (the lock's own wake-ups).
long sleeps_so_far() {
    rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nvcsw;
}

// A child stopped while it waits counts the wake-ups of that last wait before it exits (getrusage and a
// lock-free atomic: safe in the SIGTERM handler), all but the sleep the SIGTERM itself ends. Set in a
// one-threaded child only.
std::atomic<long>* wakeups_of_this_child = nullptr;
std::atomic<long> asleep_when_waiting_began{0};
void count_wakeups_before_exit() {
    const long sleeps = sleeps_so_far() - asleep_when_waiting_began;
    if (wakeups_of_this_child != nullptr && sleeps > 1) wakeups_of_this_child->fetch_add(sleeps - 1);
}

// UNP's child_main: lock, accept, unlock, serve; forever, until told to stop.
void child_main(Server& server, AcceptLock& lock, Counts& counts, const std::atomic<bool>& server_stops, int slot) {
    server.close_parent_only();
    const std::string who = "child " + std::to_string(slot);
    netutil::print_line(who + " starting (pid " + std::to_string(::getpid()) + ")");
    wakeups_of_this_child = &counts.wakeups;
    call_before_exit_while_waiting(count_wakeups_before_exit);
    for (;;) {
        asleep_when_waiting_began = sleeps_so_far();
        begin_waiting();  // from here until end_waiting(), a SIGTERM ends this child at once
        const bool recovered = lock.lock();
        // A child that waited for the lock while the server stopped may learn it only now (under
        // ThreadSanitizer a signal that comes during fcntl() is held back until a later call): the parent
        // sets the flag in shared memory before it stops the children (read without a system call).
        // Stopping, the child holding the mutex exits holding it (SIGTERM while waiting), so the next one
        // gets EOWNERDEAD: that is no death to report, and it leaves quietly too.
        if (server.settings.model != Model::NoLock && server_stops.load()) ::_exit(0);
        if (recovered) netutil::print_line(who + ": the accept mutex's owner died holding it: recovered (EOWNERDEAD)");
        netutil::SockAddr peer;
        netutil::UniqueFd client = wait_and_accept(server, who, peer);
        lock.unlock();
        end_waiting();  // first: from here on, a SIGTERM no longer counts this wait too
        counts.wakeups.fetch_add(sleeps_so_far() - asleep_when_waiting_began);
        if (!client) continue;
        counts.connections.fetch_add(1, std::memory_order_relaxed);
        const bool stopping = serve(client.get(), server, server.stop.fd(), who, &peer);
        if (stopping || stop_requested()) return;
    }
}

// A hybrid thread done because the server stops waits, counted as waiting, for the SIGTERM that ends the
// child once no thread is busy (the parent sends it after the stop pipe). It never returns: the child ends
// with all its threads alive, never with one finished and not joined.
[[noreturn]] void park() {
    for (;;) ::pause();
}

// The hybrid thread holding both locks waits in poll() for a connection or the stop pipe; true for a
// connection. It cannot count on the SIGTERM alone: the kernel may deliver it to a thread waiting for the
// mutex, and under ThreadSanitizer that thread runs the handler only once it gets the mutex. (A parent
// killed outright never writes the pipe, but then it reads as closed: POLLHUP, a stop too.)
bool wait_for_connection_or_stop(const Server& server) {
    pollfd pfds[2] = {{server.listener.get(), POLLIN, 0}, {server.stop.fd(), POLLIN, 0}};
    while (::poll(pfds, 2, -1) == -1) {
        if (errno != EINTR) netutil::throw_errno("poll");
    }
    return pfds[1].revents == 0;
}

// Apache's worker MPM in miniature: one child of `threads` threads, each one UNP's thread_main. Two locks
// around accept(): the fcntl lock is the child's (a process's locks are shared by all its threads), so the
// threads of one child take turns with a mutex of their own first; then one thread in the whole pool
// waits for a connection (in poll(), to see the stop too) and accepts it. On SIGTERM the child exits at
// once if all its threads wait, else when the last busy thread is done.
// Each thread counts its wake-ups when a wait ends; the waits the stop cuts short are not counted (the
// threads take turns at the locks, so each of those was woken about once).
void hybrid_child_main(Server& server, AcceptLock& lock, Counts* counts, int slot, int threads) {
    server.close_parent_only();
    netutil::print_line("child " + std::to_string(slot) + " starting (pid " + std::to_string(::getpid()) + ")");
    std::mutex threads_lock;  // between this child's threads; the fcntl lock is between children
    auto thread_main = [&](int t) {
        const std::string who = "child " + std::to_string(slot) + " thread " + std::to_string(t);
        Counts& mine = counts[t];
        for (;;) {
            begin_waiting();
            if (stop_requested()) park();  // SIGTERM while another thread finishes: take nothing new
            netutil::SockAddr peer;
            netutil::UniqueFd client;
            const long asleep_before = sleeps_so_far();
            bool server_stops = false;
            {
                const std::lock_guard inner(threads_lock);
                lock.lock();
                if (wait_for_connection_or_stop(server))
                    client = wait_and_accept(server, who, peer);
                else
                    server_stops = true;  // (see child_main)
                lock.unlock();
            }
            // Parked only once the mutex is free: the next thread must not wait for it forever (under
            // ThreadSanitizer, a SIGTERM delivered to a thread waiting for a mutex waits with it).
            if (server_stops) park();
            end_waiting();
            mine.wakeups.fetch_add(sleeps_so_far() - asleep_before);
            if (!client) continue;
            mine.connections.fetch_add(1, std::memory_order_relaxed);
            const bool stopping = serve(client.get(), server, server.stop.fd(), who, &peer);
            if (stopping || stop_requested()) {
                begin_waiting();  // the last thread to finish ends the child if a SIGTERM came
                park();
            }
        }
    };
    set_busy_threads(threads);
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) workers.emplace_back(thread_main, t);
}

// "wake-ups: 2730 for 2500 connections (1.09 per connection)"
std::string wakeups_line(long wakeups, long connections) {
    std::string line = "wake-ups: " + std::to_string(wakeups) + " for " + std::to_string(connections) + " connections";
    if (connections > 0) {
        char ratio[32];
        std::snprintf(ratio, sizeof ratio, "%.2f", static_cast<double>(wakeups) / static_cast<double>(connections));
        line += std::string(" (") + ratio + " per connection)";
    }
    return line;
}

}  // namespace

void run_preforked(Server& server) {
    const int n = server.settings.nchildren;
    const bool hybrid = server.settings.model == Model::Hybrid;
    const int threads = hybrid ? server.settings.threads : 1;
    if (server.settings.wait == Wait::Poll) netutil::set_nonblocking(server.listener.get());  // see above
    Shared* shared = map_shared(n * threads);
    AcceptLock lock(server.settings.model, shared);
    std::vector<pid_t> pids(static_cast<size_t>(n));
    auto make_child = [&](int slot) {
        Counts* counts = &shared->counts[slot * threads];
        pids[static_cast<size_t>(slot)] = fork_child([&] {
            if (hybrid)
                hybrid_child_main(server, lock, counts, slot, threads);
            else
                child_main(server, lock, *counts, shared->stopping, slot);
        });
    };
    for (int slot = 0; slot < n; ++slot) make_child(slot);

    // Everything is done by the children; the parent waits for signals: a child's death or the stop.
    int stop_signal = 0;
    while (stop_signal == 0) {
        pollfd pfd{server.signals.fd(), POLLIN, 0};
        if (::poll(&pfd, 1, -1) == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("poll");
        }
        const auto pending = server.signals.read();
        stop_signal = pending.stop_signal;
        if (!pending.child_ended) continue;
        for (const auto& done : netutil::reap_children()) {
            for (int slot = 0; slot < n; ++slot) {
                if (pids[static_cast<size_t>(slot)] != done.pid) continue;
                if (stop_signal != 0) {
                    pids[static_cast<size_t>(slot)] = -1;
                    break;
                }
                make_child(slot);
                netutil::print_line("child " + std::to_string(slot) + " (pid " + std::to_string(done.pid) + ") " +
                                    netutil::describe_status(done.status) + ": replaced by pid " +
                                    std::to_string(pids[static_cast<size_t>(slot)]));
            }
        }
    }
    std::erase(pids, -1);
    shared->stopping = true;
    stop_children(server, pids);

    // One line per child; a hybrid child's threads below it, indented; then the wake-ups of the pool.
    std::vector<byte_count::WorkerCount> workers;
    long total = 0, wakeups = 0;
    for (int slot = 0; slot < n; ++slot) {
        long child = 0;
        std::vector<byte_count::WorkerCount> its_threads;
        for (int t = 0; t < threads; ++t) {
            const Counts& counts = shared->counts[slot * threads + t];
            child += counts.connections.load();
            wakeups += counts.wakeups.load();
            its_threads.push_back(
                {"  child " + std::to_string(slot) + " thread " + std::to_string(t), counts.connections.load()});
        }
        workers.push_back({"child " + std::to_string(slot), child});
        if (hybrid) workers.insert(workers.end(), its_threads.begin(), its_threads.end());
        total += child;
    }
    byte_count::print_summary(stop_signal, workers, wakeups_line(wakeups, total), total, kCpuNote);
}

}  // namespace prefork
