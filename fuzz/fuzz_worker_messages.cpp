// fuzz/fuzz_worker_messages.cpp: the manager/worker messages of labs 09 (Mandelbrot) and 10 (pi).
//
// The first byte picks the message, the rest is the line. Parsed with the labs' own header functions
// (mandelbrot::parse_canvas_line, words, parse_number; montecarlo::words, parse_number) and the same
// bounds the lab's server.cpp/client.cpp use for COLUMN, PIXELS, JOB and RESULT (those lines are checked
// inline in the servers and clients, so they are composed here the same way from the header's parts).
//
// Invariants checked, beyond "no crash":
// - words() splits on single spaces: joined back with spaces it is the line, and no word holds a space;
// - parse_number<integer> accepts exactly an optional '-' and digits whose value (computed here in 128
//   bits, saturating) lies in [min, max], and returns that value;
// - an accepted message has every field in range, re-encodes (to_string, format_double, canvas_line) to
//   a line that parses to the very same values, and stops being accepted when its last word is cut off;
// - CANVAS: sizes in 1..10000, finite coordinates in [-1e6, 1e6] with xmin < xmax, ymin < ymax, limit 255.
#include "09_mandelbrot/mandelbrot.hpp"
#include "10_pi_montecarlo/montecarlo.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace {

void check_words(std::string_view line) {
    const auto w = mandelbrot::words(line);
    const auto v = montecarlo::words(line);
    if (w.size() != v.size() || w.empty()) std::abort();
    std::string joined;
    for (size_t i = 0; i < w.size(); ++i) {
        if (w[i] != v[i] || w[i].find(' ') != std::string_view::npos) std::abort();
        if (i > 0) joined += ' ';
        joined += w[i];
    }
    if (joined != line) std::abort();
}

// The model of a whole decimal integer in [min, max].
template <typename Number>
bool model_accepts(std::string_view word, Number min, Number max, __int128& value) {
    std::string_view digits = word;
    const bool negative = !digits.empty() && digits[0] == '-';
    if (negative) digits.remove_prefix(1);
    if (digits.empty() || (negative && !std::is_signed_v<Number>)) return false;
    __int128 v = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
        if (v > (static_cast<__int128>(1) << 80)) v = static_cast<__int128>(1) << 80;
    }
    if (negative) v = -v;
    value = v;
    return v >= static_cast<__int128>(min) && v <= static_cast<__int128>(max);
}

template <typename Number>
std::optional<Number> number(std::string_view word, Number min, Number max) {
    const auto a = mandelbrot::parse_number<Number>(word, min, max);
    const auto b = montecarlo::parse_number<Number>(word, min, max);
    if (a != b) std::abort();
    __int128 value = 0;
    const bool expect = model_accepts<Number>(word, min, max, value);
    if (a.has_value() != expect) std::abort();
    if (a) {
        if (*a < min || *a > max || static_cast<__int128>(*a) != value) std::abort();
        const auto again = mandelbrot::parse_number<Number>(std::to_string(*a), min, max);
        if (!again || *again != *a) std::abort();
    }
    return a;
}

void check_truncated_rejected(std::string_view line, bool (*accepts)(std::string_view)) {
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos) std::abort();  // every message has several words
    if (accepts(line.substr(0, space))) std::abort();
}

// COLUMN K: the worker's check (client.cpp), against a canvas of width `width`.
int g_width = 500;
bool column_ok(std::string_view line) {
    const auto w = mandelbrot::words(line);
    return w.size() == 2 && w[0] == "COLUMN" && number<int>(w[1], 0, g_width - 1).has_value();
}

// PIXELS K ITERATIONS: the manager's check (server.cpp).
bool pixels_ok(std::string_view line) {
    const auto w = mandelbrot::words(line);
    return w.size() == 3 && w[0] == "PIXELS" && number<int>(w[1], 0, g_width - 1) &&
           number<uint64_t>(w[2], 0, 1'000'000'000);
}

// JOB J SAMPLES SEED: the worker's check (client.cpp).
bool job_ok(std::string_view line) {
    const auto w = montecarlo::words(line);
    if (w.size() != 4 || w[0] != "JOB") return false;
    const auto j = number<int>(w[1], 0, montecarlo::kMaxJobs);
    const auto samples = number<uint64_t>(w[2], 1, montecarlo::kMaxSamples);
    const auto seed = number<uint64_t>(w[3], 0, UINT64_MAX);
    return j && samples && seed;
}

// RESULT J SAMPLES INSIDE: the manager's check (server.cpp), before comparing with the job sent.
bool result_ok(std::string_view line) {
    const auto w = montecarlo::words(line);
    if (w.size() != 4 || w[0] != "RESULT") return false;
    const auto j = number<int>(w[1], 0, montecarlo::kMaxJobs);
    const auto samples = number<uint64_t>(w[2], 1, montecarlo::kMaxSamples);
    const auto inside = number<uint64_t>(w[3], 0, montecarlo::kMaxSamples);
    return j && samples && inside;
}

bool canvas_ok(std::string_view line) { return mandelbrot::parse_canvas_line(line).has_value(); }

bool same(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void check_canvas(std::string_view line) {
    const auto canvas = mandelbrot::parse_canvas_line(line);
    if (!canvas) return;
    const auto& c = *canvas;
    if (c.width < 1 || c.width > mandelbrot::kMaxSide || c.height < 1 || c.height > mandelbrot::kMaxSide) std::abort();
    for (const double d : {c.xmin, c.xmax, c.ymin, c.ymax})
        if (!std::isfinite(d) || d < -1e6 || d > 1e6) std::abort();
    if (!(c.xmin < c.xmax) || !(c.ymin < c.ymax)) std::abort();
    const std::string encoded = mandelbrot::canvas_line(c);
    if (encoded.size() > mandelbrot::kMaxLine) std::abort();
    const auto again = mandelbrot::parse_canvas_line(encoded);
    if (!again || again->width != c.width || again->height != c.height || !same(again->xmin, c.xmin) ||
        !same(again->xmax, c.xmax) || !same(again->ymin, c.ymin) || !same(again->ymax, c.ymax))
        std::abort();
    check_truncated_rejected(line, canvas_ok);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2 || size > 400) return 0;
    const int kind = data[0] % 5;
    g_width = 1 + data[1] % 64;  // COLUMN/PIXELS are checked against a canvas this wide
    const std::string_view line(reinterpret_cast<const char*>(data + 2), size - 2);
    check_words(line);
    switch (kind) {
    case 0: check_canvas(line); break;
    case 1:
        if (column_ok(line)) {
            const int k = *mandelbrot::parse_number<int>(mandelbrot::words(line)[1], 0, g_width - 1);
            if (!column_ok("COLUMN " + std::to_string(k))) std::abort();
            check_truncated_rejected(line, column_ok);
        }
        break;
    case 2:
        if (pixels_ok(line)) {
            const auto w = mandelbrot::words(line);
            const std::string encoded = "PIXELS " + std::to_string(*mandelbrot::parse_number<int>(w[1], 0, g_width - 1)) +
                                        " " + std::to_string(*mandelbrot::parse_number<uint64_t>(w[2], 0, 1'000'000'000));
            if (!pixels_ok(encoded)) std::abort();
            check_truncated_rejected(line, pixels_ok);
        }
        break;
    case 3:
        if (job_ok(line)) {
            const auto w = montecarlo::words(line);
            const std::string encoded =
                "JOB " + std::to_string(*montecarlo::parse_number<int>(w[1], 0, montecarlo::kMaxJobs)) + " " +
                std::to_string(*montecarlo::parse_number<uint64_t>(w[2], 1, montecarlo::kMaxSamples)) + " " +
                std::to_string(*montecarlo::parse_number<uint64_t>(w[3], 0, UINT64_MAX));
            if (!job_ok(encoded)) std::abort();
            check_truncated_rejected(line, job_ok);
        }
        break;
    default:
        if (result_ok(line)) {
            const auto w = montecarlo::words(line);
            const std::string encoded =
                "RESULT " + std::to_string(*montecarlo::parse_number<int>(w[1], 0, montecarlo::kMaxJobs)) + " " +
                std::to_string(*montecarlo::parse_number<uint64_t>(w[2], 1, montecarlo::kMaxSamples)) + " " +
                std::to_string(*montecarlo::parse_number<uint64_t>(w[3], 0, montecarlo::kMaxSamples));
            if (!result_ok(encoded)) std::abort();
            check_truncated_rejected(line, result_ok);
        }
        break;
    }
    return 0;
}
