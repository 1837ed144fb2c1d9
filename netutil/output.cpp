#include "netutil/output.hpp"

#include "netutil/io.hpp"

#include <iostream>
#include <mutex>
#include <unistd.h>

namespace netutil {

namespace {

std::mutex output_mutex;
std::string name = "program";

void write_locked(int fd, std::string_view text) {
    const std::lock_guard lock(output_mutex);
    try {
        write_all(fd, text);
    } catch (const std::system_error&) {
        // Nobody reads our output any more (a closed pipe): the program itself carries on.
    }
}

}  // namespace

void print_line(std::string_view line) { write_locked(STDOUT_FILENO, std::string(line) + "\n"); }

void print_error(std::string_view line) { write_locked(STDERR_FILENO, std::string(line) + "\n"); }

const std::string& program_name() { return name; }

void set_program_name(std::string program) { name = std::move(program); }

std::optional<std::string> prompt_line(std::string_view prompt) {
    write_locked(STDOUT_FILENO, prompt);
    std::string answer;
    if (!std::getline(std::cin, answer)) {
        write_locked(STDOUT_FILENO, "\n");
        return std::nullopt;
    }
    if (!answer.empty() && answer.back() == '\r') answer.pop_back();
    if (::isatty(STDIN_FILENO) == 0) write_locked(STDOUT_FILENO, answer + "\n");
    return answer;
}

}  // namespace netutil
