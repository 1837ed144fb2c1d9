#include "netutil/cli.hpp"

#include "netutil/output.hpp"
#include "netutil/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <sstream>
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
        print_error(name + ": " + usage_message(app, error) + " (see --help)");
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

long prompt_number(std::string_view prompt, std::string_view what, long min, long max) {
    const std::optional<std::string> answer = prompt_line(prompt);
    if (!answer) usage_error("no answer to '" + std::string(prompt) + "' (end of input)");
    const std::optional<long> value = parse_number<long>(*answer, min, max);
    if (!value)
        usage_error(std::string(what) + " must be a whole number from " + std::to_string(min) + " to " +
                    std::to_string(max) + ", not '" + *answer + "'");
    return *value;
}

namespace {

// A number as a student writes it: 0.1, 3600, 0.001 (no trailing zeros, no exponent for these).
std::string number_text(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

std::string first_line(std::string text) {
    if (const auto end = text.find('\n'); end != std::string::npos) text.resize(end);
    return text;
}

// The option or positional argument named `name` (as CLI11 names it in its messages), or nullptr.
const CLI::Option* find_option(const CLI::App& app, const std::string& name) {
    for (const CLI::Option* option : app.get_options())
        if (option->get_name() == name || option->check_name(name)) return option;
    return nullptr;
}

// `NAME: what it is` when the option has a description, else `NAME`.
std::string name_and_description(const CLI::App& app, const std::string& name) {
    const CLI::Option* option = find_option(app, name);
    if (option == nullptr || option->get_description().empty()) return name;
    return name + ": " + first_line(option->get_description());
}

// The positional arguments a program takes, in order: "PORT NCLIENTS".
std::string positional_names(const CLI::App& app) {
    std::string names;
    for (const CLI::Option* option : app.get_options())
        if (option->get_positional()) names += (names.empty() ? "" : " ") + option->get_name();
    return names;
}

// A word of the command line that is an option (`--bogus`, `-x`) rather than a value (`-5`, `-0.5`).
bool looks_like_option(const std::string& word) {
    return word.size() > 1 && word[0] == '-' && !std::isdigit(static_cast<unsigned char>(word[1])) && word[1] != '.';
}

}  // namespace

CLI::Validator port_number(int min) {
    return CLI::Validator(
        [min](std::string& input) {
            if (parse_number<long>(input, min, 65535)) return std::string();
            return "'" + input + "' is not a port number (" + std::to_string(min) + " to 65535)";
        },
        "");
}

CLI::Validator whole_number(long long min, long long max) {
    return CLI::Validator(
        [min, max](std::string& input) {
            if (parse_number<long long>(input, min, max)) return std::string();
            return "'" + input + "' is not a whole number from " + std::to_string(min) + " to " + std::to_string(max);
        },
        "INT in [" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

CLI::Validator unsigned_number(unsigned long long min, unsigned long long max) {
    return CLI::Validator(
        [min, max](std::string& input) {
            if (parse_number<unsigned long long>(input, min, max)) return std::string();
            return "'" + input + "' is not a whole number from " + std::to_string(min) + " to " + std::to_string(max);
        },
        "UINT in [" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

CLI::Validator real_number(double min, double max) {
    return CLI::Validator(
        [min, max](std::string& input) {
            if (parse_number<double>(input, min, max)) return std::string();
            return "'" + input + "' is not a number from " + number_text(min) + " to " + number_text(max);
        },
        "FLOAT in [" + number_text(min) + " - " + number_text(max) + "]");
}

CLI::Validator one_of(std::vector<std::string> names) {
    std::string listed;
    for (const std::string& name : names) listed += (listed.empty() ? "" : ", ") + name;
    return CLI::Validator(
        [names, listed](std::string& input) {
            for (const std::string& name : names)
                if (lower(name) == lower(input)) {
                    input = name;
                    return std::string();
                }
            return "'" + input + "' is not one of: " + listed;
        },
        "{" + CLI::detail::join(names, ",") + "}");
}

std::string usage_message(const CLI::App& app, const CLI::ParseError& error) {
    const std::string message = first_line(error.what());
    const auto colon = message.find(": ");
    if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr && colon != std::string::npos) {
        // CLI11 lists the words it could not place, last one first.
        std::istringstream listed(message.substr(colon + 2));
        std::vector<std::string> extras;
        for (std::string word; listed >> word;) extras.insert(extras.begin(), word);
        for (const std::string& word : extras)
            if (looks_like_option(word)) return "'" + word.substr(0, word.find('=')) + "' is not an option";
        std::string quoted;
        for (const std::string& word : extras) quoted += (quoted.empty() ? "'" : " '") + word + "'";
        const std::string takes = positional_names(app);
        return "too many arguments: " + quoted +
               (takes.empty() ? " (it takes options only)" : " (the arguments are " + takes + ")");
    }
    if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
        const auto end = message.find(" is required");
        if (end != std::string::npos) return "missing " + name_and_description(app, message.substr(0, end));
    }
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr && colon != std::string::npos &&
        message.find(" missing") != std::string::npos)
        return "missing a value for " + name_and_description(app, message.substr(0, colon));
    if (dynamic_cast<const CLI::ConversionError*>(&error) != nullptr) {
        const std::string prefix = "Could not convert: ";
        const auto equals = message.find(" = ");
        if (message.rfind(prefix, 0) == 0 && equals != std::string::npos) {
            const std::string name = message.substr(prefix.size(), equals - prefix.size());
            const CLI::Option* option = find_option(app, name);
            if (option != nullptr && option->get_items_expected_max() == 0)
                return name + " is a switch: it takes no value";
            const std::string type = option != nullptr ? option->get_type_name() : "";
            const std::string what = type == "INT" || type == "UINT" ? "a whole number"
                                     : type == "FLOAT"               ? "a number"
                                                                     : "a value it takes";
            return name + ": '" + message.substr(equals + 3) + "' is not " + what;
        }
        if (colon != std::string::npos && message.find("true/false") != std::string::npos)
            return message.substr(0, colon) + " is a switch: it takes no value";
    }
    return message;
}

}  // namespace netutil
