// 04_prefork/prefork.cpp: the preforked servers whose children call accept() themselves (UNP's serv02,
// serv03, serv04; the lecture's "Preforking or Process Pool", "Thundering Herd", "Locking Around accept").
//
//   nolock  N children all block in accept() on the one listening socket; the kernel hands each new
//           connection to one of them. (Old kernels woke all N for each connection: the thundering herd.)
//   flock   each child takes an fcntl() record lock on a file around accept(), so one child at a time
//           waits in accept() and the others wait for the lock.
//   mutex   the same with a pthread mutex in memory shared by all the children (mmap MAP_SHARED,
//           PTHREAD_PROCESS_SHARED), as the slide does. It is also PTHREAD_MUTEX_ROBUST: a child killed
//           while holding it does not freeze the pool; the next child to lock it gets EOWNERDEAD and makes
//           it consistent again. (A killed child's fcntl lock is released by the kernel.)
// The parent only forks the children, replaces any that dies, and stops them on Ctrl-C. Each child counts
// its connections in shared memory, so the parent can print how the kernel spread the load.
#include "04_prefork/models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

namespace prefork {

namespace {

// Memory shared by the parent and every child (mmap MAP_SHARED survives fork): the accept mutex and one
// connection counter per child slot, each written by its child only.
struct Shared {
    pthread_mutex_t accept_mutex;
    std::atomic<long>* connections;  // nchildren counters, right after this struct in the same mapping
};
static_assert(std::atomic<long>::is_always_lock_free, "counters in shared memory must be lock-free");

Shared* map_shared(int nchildren) {
    const size_t size = sizeof(Shared) + sizeof(std::atomic<long>) * static_cast<size_t>(nchildren);
    void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) netutil::throw_errno("mmap");
    auto* shared = new (memory) Shared{};
    auto* counters = reinterpret_cast<std::atomic<long>*>(static_cast<char*>(memory) + sizeof(Shared));
    for (int i = 0; i < nchildren; ++i) new (&counters[i]) std::atomic<long>(0);
    shared->connections = counters;
    return shared;
}

// The lock around accept(): none, an fcntl record lock, or the shared pthread mutex.
class AcceptLock {
public:
    AcceptLock(Model model, Shared* shared) : model_(model), mutex_(&shared->accept_mutex) {
        if (model_ == Model::Flock) {
            // UNP's my_lock_init: a temporary file, unlinked at once; only its lock matters.
            char path[] = "/tmp/prefork-lock.XXXXXX";
            file_.reset(netutil::check(::mkostemp(path, O_CLOEXEC), "mkostemp /tmp/prefork-lock.XXXXXX"));
            ::unlink(path);
        } else if (model_ == Model::Mutex) {
            pthread_mutexattr_t attr;
            ::pthread_mutexattr_init(&attr);
            ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
            ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
            const int rc = ::pthread_mutex_init(mutex_, &attr);
            ::pthread_mutexattr_destroy(&attr);
            if (rc != 0) netutil::throw_error(rc, "pthread_mutex_init");
        }
    }

    void lock(const std::string& who) {
        if (model_ == Model::Flock) {
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
                ::pthread_mutex_consistent(mutex_);
                netutil::print_line(who + ": the accept mutex's owner died holding it: recovered (EOWNERDEAD)");
            } else if (rc != 0) {
                netutil::throw_error(rc, "pthread_mutex_lock");
            }
        }
    }

    void unlock() {
        if (model_ == Model::Flock) {
            struct flock lock {};
            lock.l_type = F_UNLCK;
            lock.l_whence = SEEK_SET;
            netutil::check(::fcntl(file_.get(), F_SETLK, &lock), "fcntl F_UNLCK");
        } else if (model_ == Model::Mutex) {
            const int rc = ::pthread_mutex_unlock(mutex_);
            if (rc != 0) netutil::throw_error(rc, "pthread_mutex_unlock");
        }
    }

private:
    Model model_;
    pthread_mutex_t* mutex_;
    netutil::UniqueFd file_;  // flock: the lock file, shared by all children (fcntl locks belong to processes)
};

bool readable_now(int fd) {
    pollfd pfd{fd, POLLIN, 0};
    return ::poll(&pfd, 1, 0) > 0;
}

// UNP's child_main: lock, accept, unlock, serve; forever, until told to stop.
void child_main(Server& server, AcceptLock& lock, std::atomic<long>& connections, int slot) {
    server.close_parent_only();
    const std::string who = "child " + std::to_string(slot);
    netutil::print_line(who + " starting (pid " + std::to_string(::getpid()) + ")");
    for (;;) {
        begin_waiting();  // from here until end_waiting(), a SIGTERM ends this child at once
        lock.lock(who);
        // A child that waited for the fcntl lock while the server stopped may learn it only now (under
        // ThreadSanitizer a signal that comes during fcntl() is held back until a later call): the stop
        // pipe is readable once the parent stops, and also once it died (its write end is then closed).
        if (server.settings.model == Model::Flock && readable_now(server.stop.read_end.get())) ::_exit(0);
        netutil::UniqueFd client = byte_count::accept_or_wait(server.listener.get(), who);
        lock.unlock();
        end_waiting();
        if (!client) continue;
        connections.fetch_add(1, std::memory_order_relaxed);
        const bool stopping = serve(client.get(), server, server.stop.read_end.get(), who);
        if (stopping || stop_requested()) return;
    }
}

}  // namespace

void run_preforked(Server& server) {
    const int n = server.settings.nchildren;
    Shared* shared = map_shared(n);
    AcceptLock lock(server.settings.model, shared);
    std::vector<pid_t> pids(static_cast<size_t>(n));
    auto make_child = [&](int slot) {
        pids[static_cast<size_t>(slot)] =
            fork_child([&] { child_main(server, lock, shared->connections[slot], slot); });
    };
    for (int slot = 0; slot < n; ++slot) make_child(slot);

    // Everything is done by the children; the parent waits for signals: a child's death or the stop.
    int stop_signal = 0;
    while (stop_signal == 0) {
        pollfd pfd{server.signals.fd(), POLLIN, 0};
        if (::poll(&pfd, 1, -1) == -1) continue;
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
    stop_children(server, pids);

    std::vector<byte_count::WorkerCount> workers;
    long total = 0;
    for (int slot = 0; slot < n; ++slot) {
        const long count = shared->connections[slot].load();
        workers.push_back({"child " + std::to_string(slot), count});
        total += count;
    }
    print_summary(stop_signal, workers, "", total);
}

}  // namespace prefork
