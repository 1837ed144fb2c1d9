// 01_mtserver/prodcons.cpp: a producer and a consumer of "units", the consumer polling or sleeping on a
// condition variable.
//
// Mirrors: the lecture "Network Programming", slides "Condition Variables" and "Using Condition Variables" (TLPI's
// `avail` example): the first consumer loops, locking and checking `avail` ("it works, but it wastes CPU time"); the
// second waits on a condition variable that the producer signals.
//
// Watch for: the consumer's CPU time and how many times it looked at `avail`. Polling (--busy) looks
// millions of times and burns a core while the producer sleeps; the condition variable looks about once
// per unit and uses almost no CPU. pthread_cond_wait unlocks the mutex and sleeps in one atomic step,
// which is why the predicate is checked under the mutex and rechecked after waking.
//
// Usage: ./prodcons [--units N] [--interval-ms MS] [--busy]
#include "netutil/cli.hpp"
#include "netutil/output.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>

namespace {

std::mutex mtx;
std::condition_variable cond;
int avail = 0;          // units produced and not yet consumed (guarded by mtx)
bool finished = false;  // the producer is done (guarded by mtx)

void produce(int units, std::chrono::milliseconds interval) {
    for (int i = 0; i < units; ++i) {
        std::this_thread::sleep_for(interval);  // making a unit takes time
        {
            const std::lock_guard lock(mtx);
            ++avail;  // let the consumer know another unit is available
        }
        cond.notify_one();  // wake a sleeping consumer (the busy one does not sleep)
    }
    const std::lock_guard lock(mtx);
    finished = true;
    cond.notify_one();
}

struct Consumed {
    int units = 0;
    long checks = 0;  // times the consumer looked at avail
};

// The slide's first consumer: lock, consume what is there, unlock, and again, and again.
Consumed consume_by_polling() {
    Consumed result;
    for (;;) {
        const std::lock_guard lock(mtx);
        ++result.checks;
        while (avail > 0) {
            --avail;
            ++result.units;
        }
        if (finished) return result;
    }
}

// The slide's second consumer: sleep on the condition variable until there is something to consume.
Consumed consume_with_condition_variable() {
    Consumed result;
    std::unique_lock lock(mtx);
    for (;;) {
        ++result.checks;
        while (avail == 0 && !finished) {
            cond.wait(lock);  // unlocks mtx while asleep, locks it again before returning
            ++result.checks;
        }
        while (avail > 0) {
            --avail;
            ++result.units;
        }
        if (finished) return result;
    }
}

double thread_cpu_seconds() {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

}  // namespace

namespace {

struct Settings {
    int units = 20;
    int interval_ms = 10;  // the time to make one unit
    bool busy = false;     // --busy: the polling consumer
};
Settings parse_settings(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        std::thread producer(produce, settings.units, std::chrono::milliseconds(settings.interval_ms));
        const double cpu_before = thread_cpu_seconds();
        const Consumed consumed = settings.busy ? consume_by_polling() : consume_with_condition_variable();
        const double cpu_used = thread_cpu_seconds() - cpu_before;
        producer.join();
        char cpu[32];
        std::snprintf(cpu, sizeof cpu, "%.3f", cpu_used);
        netutil::print_line(std::string(settings.busy ? "polling" : "condition variable") + " consumer: consumed " +
                            std::to_string(consumed.units) + " units, checked avail " +
                            std::to_string(consumed.checks) + " times, used " + cpu + " s of CPU");
        return consumed.units == settings.units ? 0 : 1;
    });
}

namespace {

Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "\"Using Condition Variables\": a producer makes N units; the consumer either polls `avail` under\n"
        "the mutex (--busy) or sleeps on a condition variable. Compare the consumer's CPU time."};
    Settings settings;
    app.add_option("--units", settings.units, "units to produce, 1 to 100000")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 100000).description(""));
    app.add_option("--interval-ms", settings.interval_ms, "time to make one unit, 0 to 1000 ms")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 1000).description(""));
    app.add_flag("--busy", settings.busy, "the polling consumer (wastes CPU) instead of the condition variable");
    netutil::parse_or_exit(app, argc, argv);
    return settings;
}

}  // namespace
