// netutil/text.hpp: the pieces of a line protocol's parser that every lab's parser is made of: a line's
// words, a whole number in a range, and a peer's line made safe to quote in a log; and a count with its
// noun for what the programs print.
//
// Header-only: the functions are small, and parse_number is a template. Nothing here allocates more than
// the line it is given, and nothing throws: a malformed input is an empty result, never an exception.
//
//   const auto w = netutil::words("JOB 3 1000 42");                 // {"JOB", "3", "1000", "42"}
//   const auto n = netutil::parse_number<int>(w[1], 0, 1000000);    // 3
//   netutil::print_line("sent " + netutil::quote(line));             // "sent \"GET / HTTP/1.1\""
//   netutil::print_line("served " + netutil::count(1, "datagram"));  // "served 1 datagram"
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace netutil {

// The words of a line, split on single spaces. Two spaces in a row, or a space at either end, give an
// empty word, so a parser that checks every word rejects them: protocols of the kit are written with
// exactly one space between words. Never empty: "" is one empty word. The views point into `line`.
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

// A whole decimal number in [min, max], nothing before or after it (no '+', no spaces, no "0x"); a
// floating-point Number also takes an exponent ("1e3"). std::nullopt for anything else: empty, out of the
// type's range, out of [min, max], or not a number at all, NaN included (it is in no range).
template <typename Number>
std::optional<Number> parse_number(std::string_view word, Number min, Number max) {
    Number value{};
    const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (word.empty() || error != std::errc() || end != word.data() + word.size() || !(value >= min && value <= max))
        return std::nullopt;
    return value;
}

// A line from a peer, fit to be quoted in a log line: in double quotes, printable ASCII only (anything else
// becomes '?'), at most `max_shown` characters, then "..." when it was longer.
inline std::string quote(std::string_view line, size_t max_shown = 40) {
    std::string text = "\"";
    for (const char c : line.substr(0, max_shown)) text += (c >= 32 && c < 127) ? c : '?';
    if (line.size() > max_shown) text += "...";
    return text + "\"";
}

// A number and its noun, the noun in the plural unless the number is 1: count(1, "datagram") is "1 datagram",
// count(3, "datagram") "3 datagrams", count(2, "child", "children") "2 children".
template <typename Integer>
requires std::is_integral_v<Integer> std::string count(Integer n, std::string_view noun, std::string_view plural = {}) {
    std::string text = std::to_string(n) + " ";
    if (n == 1) return text.append(noun);
    if (!plural.empty()) return text.append(plural);
    return text.append(noun).append("s");
}

}  // namespace netutil
