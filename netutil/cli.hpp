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
#include <type_traits>
#include <utility>
#include <vector>

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
// a number out of range or end of input is a usage error that says what was asked (`what`, e.g. "the
// number of clients"): `the number of clients must be a whole number from 1 to 1000, not '0'`.
long prompt_number(std::string_view prompt, std::string_view what, long min, long max);

// Validators whose messages a student understands. CLI11 puts the option's name in front, so the usage
// error reads `server: PORT: 'abc' is not a port number (0 to 65535)`.

// A TCP/UDP port from `min` (0: any free port, for servers; 1 for clients) to 65535. No --help text (which
// then reads `PORT INT=11267`).
CLI::Validator port_number(int min = 0);

// A number in [min, max]: `'0' is not a whole number from 1 to 256` (floating point: `a number from`).
// Its --help text is CLI11's own (`INT in [1 - 256]`); `.description("")` hides it as for CLI::Range.
CLI::Validator whole_number(long long min, long long max);
CLI::Validator unsigned_number(unsigned long long min, unsigned long long max);
CLI::Validator real_number(double min, double max);

// A name out of `names`, in any case; the value becomes the name as listed (use it with ->transform):
// `'random' is not one of: static, dynamic`.
CLI::Validator one_of(std::vector<std::string> names);

// The same for an option whose value is an enum: the name becomes its value (use it with ->transform).
template <typename Enum>
CLI::Validator one_of(const std::vector<std::pair<std::string, Enum>>& choices) {
    std::vector<std::string> names;
    for (const auto& choice : choices) names.push_back(choice.first);
    CLI::Validator name_check = one_of(names);
    return CLI::Validator(
        [name_check, choices](std::string& input) {
            if (std::string message = name_check(input); !message.empty()) return message;
            for (const auto& [name, value] : choices)
                if (name == input) input = std::to_string(static_cast<std::underlying_type_t<Enum>>(value));
            return std::string();
        },
        "");
}

// Compatibility name: the port of a server (0 to 65535).
inline const CLI::Validator kPortRange = port_number(0);

// The one line a CLI11 parse error becomes (without the program's name): which option or argument is
// wrong and what it takes, in plain words. parse_or_exit prints it; tests call it directly.
std::string usage_message(const CLI::App& app, const CLI::ParseError& error);

}  // namespace netutil
