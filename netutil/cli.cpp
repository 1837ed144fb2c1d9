#include "netutil/cli.hpp"

#include "netutil/output.hpp"

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace netutil {

void parse_or_exit(CLI::App& app, int argc, char** argv) {
    std::string name = argc > 0 ? argv[0] : "program";
    name = name.substr(name.find_last_of('/') + 1);
    set_program_name(name);
    app.name(name);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
        app.exit(help);
        std::exit(0);
    } catch (const CLI::CallForAllHelp& help) {
        app.exit(help);
        std::exit(0);
    } catch (const CLI::ParseError& error) {
        std::string message = error.what();
        if (const auto end = message.find('\n'); end != std::string::npos) message.resize(end);
        print_error(name + ": " + message + " (see --help)");
        std::exit(kExitUsage);
    }
}

int run_main(const std::function<int()>& body) {
    try {
        return body();
    } catch (const std::system_error& error) {
        print_error(program_name() + ": " + error.what());
    } catch (const std::exception& error) {
        print_error(program_name() + ": " + error.what());
    }
    return kExitFailure;
}

void usage_error(const std::string& message) {
    print_error(program_name() + ": " + message);
    std::exit(kExitUsage);
}

long prompt_number(std::string_view prompt, long min, long max) {
    const std::optional<std::string> answer = prompt_line(prompt);
    if (!answer) usage_error("no answer to '" + std::string(prompt) + "' (end of input)");
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(answer->c_str(), &end, 10);
    const bool whole = !answer->empty() && end != answer->c_str() && *end == '\0' && errno == 0;
    if (!whole || value < min || value > max)
        usage_error("'" + *answer + "' is not a number from " + std::to_string(min) + " to " + std::to_string(max));
    return value;
}

}  // namespace netutil
