// fuzz/fuzz_udp_square.cpp: the --square reply of lab 03 (udp::square_reply).
//
// Invariants checked, beyond "no crash":
// - a datagram is a number exactly when, blanks (space, tab, CR, LF) trimmed, it is [+-]digits[.digits]
//   with at least one digit; anything else gets `error: not a number: ...`, more than kMaxDigits digits
//   gets `error: too many digits ...`;
// - a number's reply is a canonical decimal (no leading zero but "0", no trailing zero in the fraction,
//   at most twice the input's fraction digits), and equal to the square computed independently: exactly
//   with 128-bit integers when the digits fit in 64 bits, and modulo two primes for every size.
#include "03_udp_mp/models.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

uint64_t mod_of(std::string_view digits, uint64_t p) {
    uint64_t r = 0;
    for (const char c : digits) r = (r * 10 + static_cast<uint64_t>(c - '0')) % p;
    return r;
}

std::string u128_to_string(unsigned __int128 v) {
    if (v == 0) return "0";
    std::string s;
    while (v > 0) {
        s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
        v /= 10;
    }
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 4000) return 0;
    const std::string_view message(reinterpret_cast<const char*>(data), size);
    const std::string reply = udp::square_reply(message);

    // The model of a number.
    size_t b = 0, e = message.size();
    while (b < e && blank(message[b])) ++b;
    while (e > b && blank(message[e - 1])) --e;
    std::string_view text = message.substr(b, e - b);
    if (!text.empty() && (text[0] == '+' || text[0] == '-')) text.remove_prefix(1);
    std::string whole, fraction;
    bool seen_point = false, number = true;
    for (const char c : text) {
        if (c == '.' && !seen_point)
            seen_point = true;
        else if (digit(c))
            (seen_point ? fraction : whole).push_back(c);
        else
            number = false;
    }
    if (whole.empty() && fraction.empty()) number = false;

    if (!number) {
        if (reply.rfind("error: not a number: ", 0) != 0) std::abort();
        return 0;
    }
    if (whole.size() + fraction.size() > udp::kMaxDigits) {
        if (reply.rfind("error: too many digits", 0) != 0) std::abort();
        return 0;
    }

    // The reply's shape: INT[.FRAC], canonical.
    const size_t point = reply.find('.');
    const std::string int_part = reply.substr(0, point);
    const std::string frac_part = point == std::string::npos ? "" : reply.substr(point + 1);
    if (int_part.empty()) std::abort();
    for (const char c : int_part)
        if (!digit(c)) std::abort();
    for (const char c : frac_part)
        if (!digit(c)) std::abort();
    if (int_part.size() > 1 && int_part[0] == '0') std::abort();
    if (point != std::string::npos && (frac_part.empty() || frac_part.back() == '0')) std::abort();
    if (frac_part.size() > 2 * fraction.size()) std::abort();

    // reply * 10^(2f) == N^2 with N the digits without the point: modulo two primes.
    const std::string digits = whole + fraction;
    const std::string scaled = int_part + frac_part + std::string(2 * fraction.size() - frac_part.size(), '0');
    for (const uint64_t p : {1000000007ULL, 998244353ULL}) {
        const uint64_t n = mod_of(digits, p);
        if (mod_of(scaled, p) != n * n % p) std::abort();
    }

    // Exactly, when N fits in 64 bits.
    const size_t first = std::min(digits.find_first_not_of('0'), digits.size());
    if (digits.size() - first <= 19) {
        unsigned __int128 n = 0;
        for (size_t i = first; i < digits.size(); ++i) n = n * 10 + static_cast<unsigned>(digits[i] - '0');
        std::string exact = u128_to_string(n * n);
        const std::string_view stripped =
            std::string_view(scaled).substr(std::min(scaled.find_first_not_of('0'), scaled.size() - 1));
        if (exact != stripped) std::abort();
    }
    return 0;
}
