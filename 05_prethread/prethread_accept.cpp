// 05_prethread/prethread_accept.cpp: prethreaded, each thread calls accept() with a mutex around it
// (UNP's serv07; the lecture's "Prethreaded Server per-Thread accept()").
//
// Watch for: the main thread only creates the pool and waits; the threads take turns at accept(): the
// one holding `accept_mutex` waits for a client, the others wait for the mutex. The kernel never sees
// more than one thread in accept(), so there is no herd to wake.
#include "05_prethread/models.hpp"

#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"

#include <mutex>
#include <thread>
#include <vector>

namespace prethread {

void run_prethreaded_accept(Server& server) {
    const int n = server.settings.nthreads;
    std::mutex accept_mutex;                                   // the slide's mlock
    std::vector<long> connections(static_cast<size_t>(n), 0);  // tptr[i].thread_count: each thread its own

    auto thread_main = [&](int i) {
        const std::string who = "thread " + std::to_string(i);
        netutil::print_line(who + " starting");
        for (;;) {
            netutil::SockAddr peer;
            netutil::UniqueFd client;
            {
                const std::lock_guard lock(accept_mutex);
                // Waiting for a client is done holding the mutex, as the slide's accept() is: a client already
                // queued is taken at once; else the thread waits in poll() with the stop pipe too, so that
                // Ctrl-C reaches the thread that waits here.
                if (netutil::caught_signal() != 0) return;
                client = byte_count::accept_or_wait(server.listener.get(), who, &peer);
                if (!client) {
                    if (netutil::wait_readable(server.listener.get(), server.stop.fd()) == netutil::Wait::Stopped)
                        return;
                    client = byte_count::accept_or_wait(server.listener.get(), who, &peer);
                }
            }
            if (!client) continue;  // another process took it, or out of descriptors for a moment
            ++connections[static_cast<size_t>(i)];
            if (server.serve(client.get(), who, &peer)) return;
        }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back(thread_main, i);
    for (auto& thread : threads) thread.join();  // everything is done by the threads

    byte_count::print_pool_summary(netutil::caught_signal(), "thread", connections, "", kCpuNote);
}

}  // namespace prethread
