// netutil/output.hpp: what programs print, and the prompts of the slides.
//
// Lines go out whole (one write() each, under a lock), so lines of concurrent threads never mix and a
// pipe sees every line the moment it is printed. Nothing here is async-signal-safe: never call it from a
// signal handler.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace netutil {

void print_line(std::string_view line);   // stdout, with a newline
void print_error(std::string_view line);  // stderr, with a newline

// The name error messages start with (set by parse_or_exit from argv[0]).
const std::string& program_name();
void set_program_name(std::string name);

// Prints `prompt` (no newline) and reads one line from stdin; std::nullopt at end of input. When stdin is
// not a terminal the answer is echoed, so a transcript of piped input reads like the slide.
std::optional<std::string> prompt_line(std::string_view prompt);

}  // namespace netutil
