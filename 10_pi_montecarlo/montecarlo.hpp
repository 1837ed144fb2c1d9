// 10_pi_montecarlo/montecarlo.hpp: the sampling and the wire format shared by the manager and the worker.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slide "Summary + Assignments", assignment 3:
// estimate pi by counting the samples (x, y) in [0, 1] x [0, 1] with x^2 + y^2 <= 1; the job queue is a
// list of (samples, seed) tuples.
//
// The generator is spelled out so that a job's count is the same on any machine, compiler and library
// (std::mt19937 would be too, but std::uniform_real_distribution is not):
//   SplitMix64: state = seed; each draw: state += 0x9E3779B97F4A7C15, z = state,
//               z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9, z = (z ^ (z >> 27)) * 0x94D049BB133111EB,
//               draw = z ^ (z >> 31)                      (all arithmetic modulo 2^64)
//   One draw per sample: X = draw >> 32, Y = draw & 0xFFFFFFFF, the point ((X + 1/2) / 2^32, (Y + 1/2) / 2^32),
//   inside when (2X + 1)^2 + (2Y + 1)^2 <= 2^66: exact integer arithmetic, no floating point at all.
//
// The protocol (one TCP connection per worker; lines end in "\n"; see README.md, "The protocol"):
//   worker  -> manager   HELLO pi 1
//   manager -> worker    JOB J SAMPLES SEED        (any number of times)
//   worker  -> manager   RESULT J SAMPLES INSIDE
//   manager -> worker    BYE                       (every job is done)
// Either side may send `error: TEXT` and close. Everything is checked on arrival, by the parse_* functions
// below (fuzzed by fuzz/fuzz_worker_messages.cpp).
#pragma once

#include "netutil/text.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace montecarlo {

inline constexpr std::string_view kHello = "HELLO pi 1";
inline constexpr size_t kMaxLine = 200;
inline constexpr uint64_t kMaxSamples = 1'000'000'000'000;  // per job
inline constexpr int kMaxJobs = 1'000'000;                  // jobs in the queue; numbered 0 to kMaxJobs - 1

class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

private:
    uint64_t state_;
};

// One job of the queue: how many of `samples` points fall inside the quarter disk.
inline uint64_t count_inside(uint64_t samples, uint64_t seed) {
    SplitMix64 generator(seed);
    constexpr unsigned __int128 kRadiusSquared = static_cast<unsigned __int128>(1) << 66;
    uint64_t inside = 0;
    for (uint64_t i = 0; i < samples; ++i) {
        const uint64_t draw = generator.next();
        const auto x = static_cast<unsigned __int128>(2 * (draw >> 32) + 1);
        const auto y = static_cast<unsigned __int128>(2 * (draw & 0xFFFFFFFFULL) + 1);
        inside += (x * x + y * y <= kRadiusSquared) ? 1 : 0;
    }
    return inside;
}

// The job queue's tuples: job j has the seed base_seed + j (modulo 2^64).
inline uint64_t job_seed(uint64_t base_seed, int job) { return base_seed + static_cast<uint64_t>(job); }

// One tuple of the job queue: job `number` counts the points inside among `samples` draws from `seed`.
struct Job {
    int number = 0;
    uint64_t samples = 0;
    uint64_t seed = 0;
};

// A worker's answer to job `number`: `inside` of its `samples` points fell inside the quarter disk.
struct Result {
    int number = 0;
    uint64_t samples = 0;
    uint64_t inside = 0;
};

inline std::string job_line(const Job& job) {
    return "JOB " + std::to_string(job.number) + " " + std::to_string(job.samples) + " " + std::to_string(job.seed);
}
inline std::string result_line(const Result& result) {
    return "RESULT " + std::to_string(result.number) + " " + std::to_string(result.samples) + " " +
           std::to_string(result.inside);
}

// The worker's check of a JOB line: a job number in [0, kMaxJobs), 1 to kMaxSamples samples, any 64-bit
// seed. std::nullopt for anything else.
inline std::optional<Job> parse_job_line(std::string_view line) {
    const auto w = netutil::words(line);
    if (w.size() != 4 || w[0] != "JOB") return std::nullopt;
    const auto number = netutil::parse_number<int>(w[1], 0, kMaxJobs - 1);
    const auto samples = netutil::parse_number<uint64_t>(w[2], 1, kMaxSamples);
    const auto seed = netutil::parse_number<uint64_t>(w[3], 0, UINT64_MAX);
    if (!number || !samples || !seed) return std::nullopt;
    return Job{*number, *samples, *seed};
}

// The manager's check of a RESULT line, before it compares it with the job it sent: the same ranges as a
// JOB, and no more points inside than samples drawn. std::nullopt for anything else.
inline std::optional<Result> parse_result_line(std::string_view line) {
    const auto w = netutil::words(line);
    if (w.size() != 4 || w[0] != "RESULT") return std::nullopt;
    const auto number = netutil::parse_number<int>(w[1], 0, kMaxJobs - 1);
    const auto samples = netutil::parse_number<uint64_t>(w[2], 1, kMaxSamples);
    if (!number || !samples) return std::nullopt;
    const auto inside = netutil::parse_number<uint64_t>(w[3], 0, *samples);
    if (!inside) return std::nullopt;
    return Result{*number, *samples, *inside};
}

}  // namespace montecarlo
