// 09_mandelbrot/mandelbrot.hpp: the computation and the wire format shared by the manager and the worker.
//
// Mirrors the lecture "Multithreaded Servers" (lecture 32), slide "The Mandelbrot Set": the point c = x + iy gets
// the number k of iterations of z -> z^2 + c, from z = 0, needed to reach |z| > 2 (at most 255), and the pixel
// the inverted grayscale 255 - k.
//
// The protocol (one TCP connection per worker; lines end in "\n"; see README.md, "The protocol"):
//   worker  -> manager   HELLO mandelbrot 1
//   manager -> worker    CANVAS W H XMIN XMAX YMIN YMAX 255
//   manager -> worker    COLUMN K                       (any number of times, at most two unanswered)
//   worker  -> manager   PIXELS K ITERATIONS            followed by exactly H bytes: the grayscales of
//                                                        column K, top row first; in the order asked
//   manager -> worker    BYE                            (all columns are done)
// Either side may send `error: TEXT` and close. Everything is checked on arrival, by the parse_* functions
// below (fuzzed by fuzz/fuzz_worker_messages.cpp); anything else ends the connection.
#pragma once

#include "netutil/text.hpp"

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mandelbrot {

inline constexpr int kMaxIterations = 255;  // k <= 255, so the grayscale 255 - k fits in a byte
inline constexpr int kMaxSide = 10000;      // widest and tallest canvas accepted, on both ends
inline constexpr std::string_view kHello = "HELLO mandelbrot 1";
inline constexpr size_t kMaxLine = 200;  // no line of the protocol is longer

// The part of the plane shown and how many pixels show it. Pixel (column i, row j) is the point
// x = xmin + i (xmax - xmin) / width, y = ymax - j (ymax - ymin) / height: row 0 is the top.
struct Canvas {
    int width = 500;
    int height = 400;
    double xmin = -2.0, xmax = 0.5, ymin = -1.0, ymax = 1.0;
};

// The slide's k: iterations of z -> z^2 + c, z = 0, until |z| > 2 (|z|^2 > 4, no square root), at most 255.
inline int escape_count(double x, double y) {
    double zr = 0.0, zi = 0.0;
    int k = 0;
    while (k < kMaxIterations && zr * zr + zi * zi <= 4.0) {
        const double next_zr = zr * zr - zi * zi + x;
        zi = 2.0 * zr * zi + y;
        zr = next_zr;
        ++k;
    }
    return k;
}

// Column `column` of the canvas: fills `gray` (canvas.height bytes, top row first) and returns the number
// of iterations it took, the sum of its k's.
inline uint64_t compute_column(const Canvas& canvas, int column, uint8_t* gray) {
    const double x = canvas.xmin + column * (canvas.xmax - canvas.xmin) / canvas.width;
    uint64_t iterations = 0;
    for (int row = 0; row < canvas.height; ++row) {
        const double y = canvas.ymax - row * (canvas.ymax - canvas.ymin) / canvas.height;
        const int k = escape_count(x, y);
        gray[row] = static_cast<uint8_t>(kMaxIterations - k);
        iterations += static_cast<uint64_t>(k);
    }
    return iterations;
}

// The iterations a column of grayscales stands for: the sum of 255 - gray. The manager checks a worker's
// count against it.
inline uint64_t iterations_of(const uint8_t* gray, size_t size) {
    uint64_t total = 0;
    for (size_t i = 0; i < size; ++i) total += static_cast<uint64_t>(kMaxIterations - gray[i]);
    return total;
}

// Shortest decimal that reads back as the same double, so the worker computes with exactly our numbers.
inline std::string format_double(double value) {
    char text[64];
    const auto [end, error] = std::to_chars(text, text + sizeof text, value);
    return error == std::errc() ? std::string(text, end) : std::string("nan");
}

inline std::string canvas_line(const Canvas& canvas) {
    return "CANVAS " + std::to_string(canvas.width) + " " + std::to_string(canvas.height) + " " +
           format_double(canvas.xmin) + " " + format_double(canvas.xmax) + " " + format_double(canvas.ymin) + " " +
           format_double(canvas.ymax) + " " + std::to_string(kMaxIterations);
}

// The worker's check of the CANVAS line: sizes in range, finite coordinates with xmin < xmax, ymin < ymax,
// and the iteration limit it implements.
inline std::optional<Canvas> parse_canvas_line(std::string_view line) {
    const auto w = netutil::words(line);
    if (w.size() != 8 || w[0] != "CANVAS") return std::nullopt;
    Canvas canvas;
    const auto width = netutil::parse_number<int>(w[1], 1, kMaxSide);
    const auto height = netutil::parse_number<int>(w[2], 1, kMaxSide);
    const auto xmin = netutil::parse_number<double>(w[3], -1e6, 1e6);
    const auto xmax = netutil::parse_number<double>(w[4], -1e6, 1e6);
    const auto ymin = netutil::parse_number<double>(w[5], -1e6, 1e6);
    const auto ymax = netutil::parse_number<double>(w[6], -1e6, 1e6);
    const auto limit = netutil::parse_number<int>(w[7], kMaxIterations, kMaxIterations);
    if (!width || !height || !xmin || !xmax || !ymin || !ymax || !limit || !(*xmin < *xmax) || !(*ymin < *ymax))
        return std::nullopt;
    canvas.width = *width;
    canvas.height = *height;
    canvas.xmin = *xmin;
    canvas.xmax = *xmax;
    canvas.ymin = *ymin;
    canvas.ymax = *ymax;
    return canvas;
}

// COLUMN K, the manager's request: K is a column of a canvas `width` wide.
inline std::string column_line(int column) { return "COLUMN " + std::to_string(column); }

// The worker's check of a COLUMN line: the column number, or std::nullopt when the line is anything else.
inline std::optional<int> parse_column_line(std::string_view line, int width) {
    const auto w = netutil::words(line);
    if (w.size() != 2 || w[0] != "COLUMN") return std::nullopt;
    return netutil::parse_number<int>(w[1], 0, width - 1);
}

// The header of a worker's reply: PIXELS K ITERATIONS, followed on the wire by the column's bytes.
struct PixelsHeader {
    int column = 0;
    uint64_t iterations = 0;  // the sum of the column's k's: at most height * 255
};

inline std::string pixels_line(const PixelsHeader& header) {
    return "PIXELS " + std::to_string(header.column) + " " + std::to_string(header.iterations);
}

// The manager's check of a PIXELS line against its canvas: a column of the canvas, and an iteration count
// a column of that height can reach (height * 255 at the most). std::nullopt for anything else.
inline std::optional<PixelsHeader> parse_pixels_line(std::string_view line, const Canvas& canvas) {
    const auto w = netutil::words(line);
    if (w.size() != 3 || w[0] != "PIXELS") return std::nullopt;
    const auto column = netutil::parse_number<int>(w[1], 0, canvas.width - 1);
    const auto iterations = netutil::parse_number<uint64_t>(
        w[2], 0, static_cast<uint64_t>(canvas.height) * static_cast<uint64_t>(kMaxIterations));
    if (!column || !iterations) return std::nullopt;
    return PixelsHeader{*column, *iterations};
}

}  // namespace mandelbrot
