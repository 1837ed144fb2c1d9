// netutil/cputime.hpp: CPU time and wall time, as the lectures' tables count them.
#pragma once

#include <chrono>
#include <string>

namespace netutil {

struct CpuTime {
    double user_seconds = 0;
    double system_seconds = 0;
    double total_seconds() const { return user_seconds + system_seconds; }
};

CpuTime cpu_time_self();      // this process, every thread
CpuTime cpu_time_children();  // the children this process has reaped (waited for)
CpuTime cpu_time_total();     // both: what UNP's tables report for a server and its children
// "user 0.120 s, system 0.450 s, total 0.570 s"
std::string format_cpu_time(const CpuTime& time);

// Wall-clock time since construction (steady clock: never jumps).
class Stopwatch {
public:
    double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace netutil
