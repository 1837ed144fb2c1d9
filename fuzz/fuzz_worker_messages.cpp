// fuzz/fuzz_worker_messages.cpp: the manager/worker messages of labs 09 (Mandelbrot) and 10 (pi).
//
// The first byte picks the message, the second the canvas the manager/worker checks against, the rest is
// the line. Every line goes through the labs' own parsers, the very functions server.cpp and client.cpp
// call: mandelbrot::parse_canvas_line, parse_column_line, parse_pixels_line; montecarlo::parse_job_line,
// parse_result_line; and the netutil::words / parse_number they are made of.
//
// Invariants checked, beyond "no crash":
// - words() splits on single spaces: joined back with spaces it is the line, and no word holds a space;
// - parse_number<integer> accepts exactly an optional '-' and digits whose value (computed here in 128
//   bits, saturating) lies in [min, max], and returns that value;
// - an accepted message has every field in range (a column of the canvas, iterations a column can reach,
//   a job number below kMaxJobs, no more points inside than samples), re-encodes with the labs' own
//   encoders (canvas_line, column_line, pixels_line, job_line, result_line) to a line that parses to the very
//   same values, and stops being accepted when its last word is cut off;
// - a rejected input never half-changes state: the worker's and the manager's state is a value the parser
//   returns whole or not at all, so a session fed the line keeps its previous state, byte for byte, on
//   rejection (checked on a session state that holds the last canvas / job accepted).
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

void require(bool condition) {
    if (!condition) std::abort();
}

void check_words(std::string_view line) {
    const auto w = netutil::words(line);
    require(!w.empty());
    std::string joined;
    for (size_t i = 0; i < w.size(); ++i) {
        require(w[i].find(' ') == std::string_view::npos);
        if (i > 0) joined += ' ';
        joined += w[i];
    }
    require(joined == line);
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

// Every word of the line against the integer model, with the ranges the protocols use.
template <typename Number>
void check_number(std::string_view word, Number min, Number max) {
    const auto parsed = netutil::parse_number<Number>(word, min, max);
    __int128 value = 0;
    require(parsed.has_value() == model_accepts<Number>(word, min, max, value));
    if (!parsed) return;
    require(*parsed >= min && *parsed <= max && static_cast<__int128>(*parsed) == value);
    const auto again = netutil::parse_number<Number>(std::to_string(*parsed), min, max);
    require(again && *again == *parsed);
}

void check_numbers(std::string_view line) {
    for (const auto word : netutil::words(line)) {
        check_number<int>(word, 0, 63);
        check_number<int>(word, -5, montecarlo::kMaxJobs - 1);
        check_number<uint64_t>(word, 1, montecarlo::kMaxSamples);
        check_number<uint64_t>(word, 0, UINT64_MAX);
    }
}

// The line without its last word: never accepted where the whole line was.
std::string_view truncated(std::string_view line) {
    const size_t space = line.rfind(' ');
    require(space != std::string_view::npos);  // every message has several words
    return line.substr(0, space);
}

bool same(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool same(const mandelbrot::Canvas& a, const mandelbrot::Canvas& b) {
    return a.width == b.width && a.height == b.height && same(a.xmin, b.xmin) && same(a.xmax, b.xmax) &&
           same(a.ymin, b.ymin) && same(a.ymax, b.ymax);
}

// The worker's state across lines, as client.cpp keeps it: the canvas once accepted. A line the parser
// rejects must leave it exactly as it was.
void check_canvas(std::string_view line) {
    const mandelbrot::Canvas before{7, 9, -1.5, 1.5, -0.25, 0.75};
    std::optional<mandelbrot::Canvas> state = before;
    const auto canvas = mandelbrot::parse_canvas_line(line);
    if (canvas) state = canvas;
    if (!canvas) {
        require(state && same(*state, before));
        return;
    }
    const auto& c = *canvas;
    require(c.width >= 1 && c.width <= mandelbrot::kMaxSide && c.height >= 1 && c.height <= mandelbrot::kMaxSide);
    for (const double d : {c.xmin, c.xmax, c.ymin, c.ymax}) require(std::isfinite(d) && d >= -1e6 && d <= 1e6);
    require(c.xmin < c.xmax && c.ymin < c.ymax);
    const std::string encoded = mandelbrot::canvas_line(c);
    require(encoded.size() <= mandelbrot::kMaxLine);
    const auto again = mandelbrot::parse_canvas_line(encoded);
    require(again && same(*again, c));
    require(!mandelbrot::parse_canvas_line(truncated(line)));
}

void check_column(std::string_view line, const mandelbrot::Canvas& canvas) {
    const auto column = mandelbrot::parse_column_line(line, canvas.width);
    if (!column) return;
    require(*column >= 0 && *column < canvas.width);
    require(mandelbrot::parse_column_line(mandelbrot::column_line(*column), canvas.width) == column);
    require(!mandelbrot::parse_column_line(truncated(line), canvas.width));
}

void check_pixels(std::string_view line, const mandelbrot::Canvas& canvas) {
    const auto header = mandelbrot::parse_pixels_line(line, canvas);
    if (!header) return;
    require(header->column >= 0 && header->column < canvas.width);
    require(header->iterations <= static_cast<uint64_t>(canvas.height) * mandelbrot::kMaxIterations);
    const auto again = mandelbrot::parse_pixels_line(mandelbrot::pixels_line(*header), canvas);
    require(again && again->column == header->column && again->iterations == header->iterations);
    require(!mandelbrot::parse_pixels_line(truncated(line), canvas));
}

// The manager's state is the job it sent; the worker's the job it runs. Rejected lines change neither.
void check_job(std::string_view line) {
    const montecarlo::Job before{5, 1000, 42};
    montecarlo::Job state = before;
    const auto job = montecarlo::parse_job_line(line);
    if (job) state = *job;
    if (!job) {
        require(state.number == before.number && state.samples == before.samples && state.seed == before.seed);
        return;
    }
    require(job->number >= 0 && job->number < montecarlo::kMaxJobs);
    require(job->samples >= 1 && job->samples <= montecarlo::kMaxSamples);
    const auto again = montecarlo::parse_job_line(montecarlo::job_line(*job));
    require(again && again->number == job->number && again->samples == job->samples && again->seed == job->seed);
    require(!montecarlo::parse_job_line(truncated(line)));
}

void check_result(std::string_view line) {
    const auto result = montecarlo::parse_result_line(line);
    if (!result) return;
    require(result->number >= 0 && result->number < montecarlo::kMaxJobs);
    require(result->samples >= 1 && result->samples <= montecarlo::kMaxSamples);
    require(result->inside <= result->samples);
    const auto again = montecarlo::parse_result_line(montecarlo::result_line(*result));
    require(again && again->number == result->number && again->samples == result->samples &&
            again->inside == result->inside);
    require(!montecarlo::parse_result_line(truncated(line)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2 || size > 400) return 0;
    const int kind = data[0] % 5;
    mandelbrot::Canvas canvas;  // COLUMN/PIXELS are checked against a canvas this wide and tall
    canvas.width = 1 + data[1] % 64;
    canvas.height = 1 + (data[1] / 64) * 100;
    const std::string_view line(reinterpret_cast<const char*>(data + 2), size - 2);
    check_words(line);
    check_numbers(line);
    switch (kind) {
        case 0: check_canvas(line); break;
        case 1: check_column(line, canvas); break;
        case 2: check_pixels(line, canvas); break;
        case 3: check_job(line); break;
        default: check_result(line); break;
    }
    return 0;
}
