// fuzz/fuzz_byte_count.cpp: the byte-count request line of labs 04 and 05 (byte_count::parse_request).
//
// Invariants checked, beyond "no crash": a line is accepted exactly when it is all decimal digits with a
// value in 1..kMaxBytes (computed here independently, digit by digit with saturation); an accepted count
// is that value and leaves `why` untouched; a rejected line returns no count and always says why.
#include "04_prefork/protocol.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);

    // The model: digits only, not empty, value in range (saturating, so no overflow).
    bool digits = !line.empty();
    unsigned long long value = 0;
    for (const char c : line) {
        if (c < '0' || c > '9') {
            digits = false;
            break;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
        if (value > 10ULL * byte_count::kMaxBytes) value = 10ULL * byte_count::kMaxBytes;
    }
    const bool expect_accept = digits && value >= 1 && value <= static_cast<unsigned long long>(byte_count::kMaxBytes);

    const std::string sentinel = "untouched";
    std::string why = sentinel;
    const auto count = byte_count::parse_request(line, why);
    if (count.has_value() != expect_accept) std::abort();
    if (count) {
        if (*count < 1 || *count > byte_count::kMaxBytes) std::abort();
        if (static_cast<unsigned long long>(*count) != value) std::abort();
        if (why != sentinel) std::abort();  // an accepted line changes nothing else
    } else {
        if (why.empty() || why == sentinel) std::abort();
        if (why.find('\n') != std::string::npos) std::abort();  // it goes out as one `error:` line
    }
    return 0;
}
