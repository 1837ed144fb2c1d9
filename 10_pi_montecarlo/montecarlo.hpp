// 10_pi_montecarlo/montecarlo.hpp: the sampling and the wire format shared by the manager and the worker.
//
// Mirrors: seeds/01_lecture_multithreaded_servers.txt, assignment 3: estimate pi by counting the samples
// (x, y) in [0, 1] x [0, 1] with x^2 + y^2 <= 1; the job queue is a list of (samples, seed) tuples.
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
// Either side may send `error: TEXT` and close. Everything is checked on arrival.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace montecarlo {

inline constexpr std::string_view kHello = "HELLO pi 1";
inline constexpr size_t kMaxLine = 200;
inline constexpr uint64_t kMaxSamples = 1'000'000'000'000;  // per job
inline constexpr int kMaxJobs = 1'000'000;

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

inline std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> result;
    size_t start = 0;
    for (;;) {
        const size_t space = line.find(' ', start);
        result.push_back(line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start));
        if (space == std::string_view::npos) break;
        start = space + 1;
    }
    return result;
}

// A whole decimal number in [min, max], nothing before or after it.
template <typename Number>
std::optional<Number> parse_number(std::string_view word, Number min, Number max) {
    Number value{};
    const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (word.empty() || error != std::errc() || end != word.data() + word.size() || value < min || value > max)
        return std::nullopt;
    return value;
}

// A line from the peer, fit to be quoted in a log line: printable ASCII only, at most 40 characters.
inline std::string quote(std::string_view line) {
    std::string text;
    for (const char c : line.substr(0, 40)) text += (c >= 32 && c < 127) ? c : '?';
    if (line.size() > 40) text += "...";
    return "\"" + text + "\"";
}

}  // namespace montecarlo
