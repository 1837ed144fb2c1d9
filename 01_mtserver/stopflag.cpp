// 01_mtserver/stopflag.cpp: three threads stop on a shared flag (lecture 32, assignment 1).
//
// Mirrors: the lecture "Multithreaded Servers" (MCS 275 lecture 32), slide "Summary + Assignments", assignment 1:
// "Only threads can terminate themselves." Thread 0 asks the user whether to continue; threads 1 and 2 busy-wait,
// checking a shared boolean. Answering n (or ending the input with Ctrl-D) sets the flag, and all three end.
//
// Watch for: the flag is a std::atomic<bool>. A plain bool read in a loop by one thread and written by
// another is a data race: the compiler may hoist the read out of the loop and spin forever (run it under
// ThreadSanitizer: `make SAN=thread` reports the race if you make it a plain bool).
//
// Usage: ./stopflag [--interval-ms MS]
#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/output.hpp"

#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <thread>

namespace {

// BEGIN SOLUTION 01.1 "the shared flag"
std::atomic<bool> stop_requested{false};
// END SOLUTION
// BEGIN STUB
// // TODO (assignment 1): the flag the three threads share. Thread 0 sets it, threads 1 and 2 read it in a
// // loop, at the same time: make sure that is not a data race (`make grade LAB=01_mtserver SAN=thread`).
// END STUB
std::latch waiters_started{2};  // the question comes after both waiters have said hello, so lines never mix

// Busy waiting: check the flag, and check again. With an interval of 0 this burns a whole core (watch it
// in `top`); a short sleep between checks is still polling, but cheap.
void busy_wait(int id, std::chrono::milliseconds interval) {
    netutil::print_line("thread " + std::to_string(id) + " busy waits on the shared flag");
    waiters_started.count_down();
    long checks = 0;
    // BEGIN SOLUTION 01.1 "busy waiting on the flag"
    while (!stop_requested.load()) {
        ++checks;
        if (interval.count() > 0) std::this_thread::sleep_for(interval);
    }
    // END SOLUTION
    // BEGIN STUB
    // // TODO (assignment 1): check the shared flag until it is set, counting the checks in `checks`, pausing
    // // `interval` between two checks (0: no pause, pure spinning).
    // (void)interval;
    // netutil::not_implemented("01.1");
    // END STUB
    netutil::print_line("thread " + std::to_string(id) + " stops after " + std::to_string(checks) + " checks");
}

// Asks until the answer is n (or the input ends), then sets the flag that stops the others.
void ask_user() {
    waiters_started.wait();
    for (;;) {
        const auto answer = netutil::prompt_line("continue ? (y/n) ");
        if (!answer || *answer == "n" || *answer == "N") break;
        if (*answer != "y" && *answer != "Y") netutil::print_line("please answer y or n");
    }
    // BEGIN SOLUTION 01.1 "setting the flag"
    stop_requested.store(true);
    // END SOLUTION
    // BEGIN STUB
    // // TODO (assignment 1): set the shared flag, so that threads 1 and 2 stop.
    // netutil::not_implemented("01.1");
    // END STUB
    netutil::print_line("thread 0 sets the flag and stops");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Assignment 1 of lecture 32: three threads, one asks whether to continue, two busy-wait on a\n"
        "shared flag; answering n (or end of input) stops all three."};
    int interval_ms = 10;
    app.add_option("--interval-ms", interval_ms,
                   "pause between two checks of the flag, 0 to 1000 ms\n"
                   "(0: pure spinning, a core per waiting thread)")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 1000).description(""));
    netutil::parse_or_exit(app, argc, argv);

    return netutil::run_main([&] {
        const std::chrono::milliseconds interval(interval_ms);
        std::thread waiter1(busy_wait, 1, interval);
        std::thread waiter2(busy_wait, 2, interval);
        std::thread asker(ask_user);
        asker.join();
        waiter1.join();
        waiter2.join();
        netutil::print_line("all threads stopped");
        return 0;
    });
}
