// 05_prethread/main_accept.cpp: prethreaded, the main thread accepts and hands each descriptor to the pool
// through a shared array (UNP's serv08; the lecture's "Prethreaded Server Main-Thread accept()").
//
// Watch for: the slide's clifd[MAXNCLI] array with iget and iput, guarded by clifd_mutex; workers sleep on
// clifd_cond while it is empty. The slide's main thread quits (err_quit) when iput catches up with iget;
// here a full array makes the main thread wait on a second condition variable until a worker takes a
// descriptor: never overwritten, never fatal. New clients meanwhile wait in the listen backlog. The
// summary says how many times the main thread had to wait so (the array was too small for the load).
#include "05_prethread/models.hpp"

#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace prethread {

namespace {

// The slide's clifd array as a ring: iput is where the main thread stores, iget where a worker takes.
// Owns the descriptors stored in it. Any thread may call it.
class DescriptorArray {
public:
    explicit DescriptorArray(int size) : slots_(static_cast<size_t>(size)) {}

    // Main thread: stores a descriptor, waiting while the array is full. False once closed.
    bool put(netutil::UniqueFd fd) {
        // BEGIN SOLUTION 05.1 "iput: store a descriptor, waiting while the array is full"
        std::unique_lock lock(mutex_);
        if (count_ == slots_.size()) {
            ++full_waits_;
            if (!said_full_) {
                said_full_ = true;
                netutil::print_line("the array of " + std::to_string(slots_.size()) +
                                    " descriptors is full: the main thread waits for a worker");
            }
        }
        not_full_.wait(lock, [&] { return count_ < slots_.size() || closed_; });
        if (closed_) return false;
        slots_[iput_] = std::move(fd);
        iput_ = (iput_ + 1) % slots_.size();
        ++count_;
        not_empty_.notify_one();  // the slide's pthread_cond_signal(&clifd_cond)
        return true;
        // END SOLUTION
        // BEGIN STUB
        // // TODO (05.1): under mutex_: when the array is full (count_ == slots_.size()), count the wait in
        // // full_waits_ (and say so once, said_full_), then sleep on not_full_ until a slot is free or the
        // // array is closed (false then); store fd at iput_, advance iput_ around the ring, ++count_, and
        // // wake a worker sleeping on not_empty_. Never overwrite a stored descriptor.
        // (void)fd;
        // netutil::not_implemented("05.1");
        // END STUB
    }

    // Worker: takes the next descriptor, sleeping while there is none; empty once closed and drained.
    netutil::UniqueFd get() {
        // BEGIN SOLUTION 05.1 "iget: take a descriptor, sleeping while the array is empty"
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return count_ > 0 || closed_; });
        if (count_ == 0) return {};
        netutil::UniqueFd fd = std::move(slots_[iget_]);
        iget_ = (iget_ + 1) % slots_.size();
        --count_;
        not_full_.notify_one();
        return fd;
        // END SOLUTION
        // BEGIN STUB
        // // TODO (05.1): under mutex_: sleep on not_empty_ until a descriptor is stored or the array is
        // // closed; closed and empty: return an empty UniqueFd (the worker stops). Otherwise take the one at
        // // iget_, advance iget_ around the ring, --count_, and wake the main thread waiting on not_full_.
        // netutil::not_implemented("05.1");
        // END STUB
    }

    // How many times put() found the array full and waited (said once in the log, counted every time).
    long full_waits() {
        const std::lock_guard lock(mutex_);
        return full_waits_;
    }

    // No more puts; workers drain what is stored (the server is stopping, so each one is quick), then stop.
    void close() {
        const std::lock_guard lock(mutex_);
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
    }

private:
    std::mutex mutex_;                      // the slide's clifd_mutex
    std::condition_variable not_empty_;     // the slide's clifd_cond
    std::condition_variable not_full_;      // ours: instead of err_quit("iput = iget")
    std::vector<netutil::UniqueFd> slots_;  // clifd[MAXNCLI]
    size_t iget_ = 0, iput_ = 0, count_ = 0;
    bool closed_ = false;
    bool said_full_ = false;
    long full_waits_ = 0;
};

}  // namespace

void run_main_thread_accept(Server& server) {
    const int n = server.settings.nthreads;
    DescriptorArray clifd(server.settings.array_size);
    std::vector<long> connections(static_cast<size_t>(n), 0);

    auto thread_main = [&](int i) {
        const std::string who = "thread " + std::to_string(i);
        netutil::print_line(who + " starting");
        while (netutil::UniqueFd client = clifd.get()) {
            ++connections[static_cast<size_t>(i)];
            server.serve(client.get(), who);
        }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back(thread_main, i);

    // The main thread accepts, and stores each connected descriptor in the array for a worker. It tries
    // accept() first (the listener does not block): under load the next client is already queued, and the
    // poll() with the stop pipe is paid only when none is (serv08 blocks in accept(), one call per client).
    while (netutil::caught_signal() == 0) {
        netutil::UniqueFd client = byte_count::accept_or_wait(server.listener.get(), "main thread");
        if (!client) {
            if (netutil::wait_readable(server.listener.get(), server.stop.fd()) == netutil::Wait::Stopped) break;
            continue;
        }
        if (!clifd.put(std::move(client))) break;
    }
    clifd.close();
    for (auto& thread : threads) thread.join();

    const long waits = clifd.full_waits();
    const std::string waited =
        "the main thread waited for a free slot " + std::to_string(waits) + (waits == 1 ? " time" : " times");
    byte_count::print_pool_summary(netutil::caught_signal(), "thread", connections, waited, kCpuNote);
}

}  // namespace prethread
