// fuzz/fuzz_line_reader.cpp: netutil::LineReader over arbitrary bytes (libFuzzer).
//
// Invariants checked, beyond "no crash": every line returned is at most max_line bytes and holds no
// newline; the lines and what is left in the buffer account for every byte read, in order; a stream
// ends in exactly one of Eof, EofMidLine or TooLong.
#include "netutil/fd.hpp"
#include "netutil/io.hpp"

#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 60000) return 0;  // the first byte picks the limit; a pipe holds 64 KiB
    const size_t max_line = 1 + data[0] % 64;
    const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);

    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) std::abort();
    netutil::UniqueFd read_end(ends[0]), write_end(ends[1]);
    netutil::write_all(write_end.get(), input);
    write_end.reset();  // EOF after the input

    netutil::LineReader reader(read_end.get(), max_line);
    std::string consumed;  // the input as the lines account for it
    std::string line;
    for (;;) {
        const auto status = reader.read_line(line);
        if (status == netutil::LineReader::Status::Line) {
            if (line.size() > max_line || line.find('\n') != std::string::npos) std::abort();
            // A line came from "LINE\n" or "LINE\r\n" at the current position.
            const std::string rest = input.substr(consumed.size());
            if (rest.rfind(line + "\n", 0) == 0)
                consumed += line + "\n";
            else if (rest.rfind(line + "\r\n", 0) == 0)
                consumed += line + "\r\n";
            else
                std::abort();
            continue;
        }
        if (status == netutil::LineReader::Status::Eof) {
            if (consumed != input) std::abort();
        } else if (status == netutil::LineReader::Status::EofMidLine) {
            if (consumed + line != input || line.find('\n') != std::string::npos) std::abort();
        } else if (status == netutil::LineReader::Status::TooLong) {
            const std::string_view pending = reader.buffered();
            if (input.compare(consumed.size(), pending.size(), pending) != 0) std::abort();
            if (pending.size() <= max_line && pending.find('\n') == std::string::npos) std::abort();
        } else {
            std::abort();  // Stopped / TimedOut: impossible without a stop pipe or timeout
        }
        return 0;
    }
}
