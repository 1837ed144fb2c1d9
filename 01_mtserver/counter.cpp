// 01_mtserver/counter.cpp: two threads increment a shared counter, with and without a mutex.
//
// Mirrors: the lecture "Network Programming", slide "Using Mutex" (UNP's NLOOP example: threads A and B each add 1
// to `counter` NLOOP = 5000 times, under pthread_mutex_lock).
//
// Watch for: with the mutex the total is always NLOOP x threads. With --no-mutex each increment is a read,
// a pause, and a write of the value read plus one, like the slide's `val = counter; printf; counter =
// val + 1` without the lock: another thread's increment made in between is overwritten, and the total
// comes out short. (The read and the write are separate atomic operations, so the lost updates are the
// lesson, not undefined behaviour: a plain int would be a data race, which ThreadSanitizer reports.)
//
// Usage: ./counter [--loops N] [--threads T] [--no-mutex] [--print]
#include "netutil/cli.hpp"
#include "netutil/output.hpp"

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<long> counter{0};
std::mutex counter_mutex;

void add_ones(int id, long loops, bool use_mutex, bool print) {
    for (long i = 0; i < loops; ++i) {
        std::unique_lock lock(counter_mutex, std::defer_lock);
        if (use_mutex) lock.lock();
        const long value = counter.load(std::memory_order_relaxed);
        if (print)
            netutil::print_line(std::to_string(id) + ": " + std::to_string(value + 1));
        else
            std::this_thread::yield();  // the slide's printf: time for the other thread to run in between
        counter.store(value + 1, std::memory_order_relaxed);
    }
}

}  // namespace

namespace {

struct Settings {
    long loops = 5000;  // the slide's NLOOP
    int threads = 2;
    bool mutex = true;   // --no-mutex: false
    bool print = false;  // --print: the slide's printf of every value
};
Settings parse_settings(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        std::vector<std::thread> workers;
        for (int id = 0; id < settings.threads; ++id)
            workers.emplace_back(add_ones, id, settings.loops, settings.mutex, settings.print);
        for (auto& worker : workers) worker.join();
        const long expected = settings.loops * settings.threads;
        const long total = counter.load();
        netutil::print_line("counter = " + std::to_string(total) + " (expected " + std::to_string(expected) +
                            (total == expected ? "" : ", " + std::to_string(expected - total) + " updates lost") +
                            (settings.mutex ? ", with the mutex)" : ", without the mutex)"));
        return 0;
    });
}

namespace {

Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "\"Using Mutex\" (UNP's NLOOP example): threads add 1 to a shared counter NLOOP times each,\n"
        "under a mutex (the total is exact) or, with --no-mutex, without (updates are lost)."};
    Settings settings;
    bool no_mutex = false;
    app.add_option("--loops", settings.loops, "increments per thread (the slide's NLOOP), 1 to 10000000")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 10000000).description(""));
    app.add_option("--threads", settings.threads, "number of threads, 1 to 64")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 64).description(""));
    app.add_flag("--no-mutex", no_mutex, "increment without the mutex, and watch updates get lost");
    app.add_flag("--print", settings.print, "print `THREAD: VALUE` for every increment, as the slide's printf does");
    netutil::parse_or_exit(app, argc, argv);
    settings.mutex = !no_mutex;
    return settings;
}

}  // namespace
