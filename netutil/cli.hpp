// netutil/cli.hpp: the CLI11 glue every program shares, so they all behave the same at the command line.
//
//   int main(int argc, char** argv) {
//       CLI::App app{"What the program does."};
//       ... app.add_option(...) ...
//       netutil::parse_or_exit(app, argc, argv);   // --help: exit 0; a usage error: one line, exit 2
//       return netutil::run_main([&] { ...; return 0; });  // a system error: one line, exit 1
//   }
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <string_view>

namespace netutil {

inline constexpr int kExitUsage = 2;    // bad command line or bad answer to a prompt
inline constexpr int kExitFailure = 1;  // the program ran and something failed (port in use, refused, ...)

// Parses the command line. `--help` prints the help and exits 0; any usage error prints
// `program: message (see --help)` on stderr and exits 2 (never CLI11's own exit codes).
void parse_or_exit(CLI::App& app, int argc, char** argv);

// Runs `body` and returns its status; a std::system_error becomes `program: what: strerror` on stderr and
// status 1, any other exception `program: message` and status 1.
int run_main(const std::function<int()>& body);

// A usage error found after parsing (a bad answer to a prompt): `program: message`, exit 2.
[[noreturn]] void usage_error(const std::string& message);

// Prompts with `prompt` (the slide's words) and reads a whole number in [min, max] from stdin; no number,
// a number out of range or end of input is a usage error.
long prompt_number(std::string_view prompt, long min, long max);

// Validator for a TCP/UDP port on the command line: 0 (any free port) to 65535. Its description is left
// out of --help (which then reads `PORT INT=11267`); an out-of-range value still says the range.
inline const CLI::Validator kPortRange = CLI::Range(0, 65535).description("");

}  // namespace netutil
