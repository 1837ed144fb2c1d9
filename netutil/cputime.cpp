#include "netutil/cputime.hpp"

#include "netutil/error.hpp"

#include <cstdio>
#include <sys/resource.h>

namespace netutil {

namespace {

CpuTime usage_of(int who) {
    rusage usage{};
    check(::getrusage(who, &usage), "getrusage");
    const auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
    return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

}  // namespace

CpuTime cpu_time_self() { return usage_of(RUSAGE_SELF); }

CpuTime cpu_time_children() { return usage_of(RUSAGE_CHILDREN); }

CpuTime cpu_time_total() {
    const CpuTime self = cpu_time_self();
    const CpuTime children = cpu_time_children();
    return {self.user_seconds + children.user_seconds, self.system_seconds + children.system_seconds};
}

std::string format_cpu_time(const CpuTime& time) {
    char text[96];
    std::snprintf(text, sizeof text, "user %.3f s, system %.3f s, total %.3f s", time.user_seconds, time.system_seconds,
                  time.total_seconds());
    return text;
}

}  // namespace netutil
