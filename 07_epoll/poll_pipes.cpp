// 07_epoll/poll_pipes.cpp: the lecture's poll() example (TLPI's poll_pipes.c): NUM_PIPES pipes, NUM_WRITES
// bytes written to pipes picked at random, then one poll() over the read ends of all of them, which says
// how many are ready (`poll() returned: N`) and, in revents, which (`Readable: INDEX FD`).
//
// Mirrors: the network programming lecture (server design), the poll() slides: `struct pollfd` (fd, events,
// revents), the table of events/revents bits, and the example that builds the pollfd list from the read
// ends of the pipes and prints `poll() returned: %d` and `Readable: %d %3d`. Like the book, poll() is
// given a timeout of 0 (`--timeout` changes it): it only looks, never waits.
// Watch for: a pipe written to twice is still one ready descriptor; poll() returns the number of
// descriptors with something in revents, and the caller scans the whole array to find them (the O(N) cost
// that epoll removes: see epoll.cpp).
//
// Run it:
//   ./poll_pipes 10 3              ten pipes, three writes: which read ends are readable?
//   ./poll_pipes 10 3 --seed 7     the same pipes every run
// See also: poll.cpp (the echo server's poll() loop), select.cpp, epoll.cpp.
#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/fd.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

struct Pipe {
    netutil::UniqueFd read_end;
    netutil::UniqueFd write_end;
};

std::string format(const char* format, int a, int b) {
    char line[96];
    std::snprintf(line, sizeof line, format, a, b);
    return line;
}

struct Settings {
    int num_pipes = 0;
    int num_writes = 1;
    std::optional<unsigned> seed;
    int timeout_ms = 0;
};

Settings parse_settings(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);

    return netutil::run_main([&] {
        std::vector<Pipe> pfds(static_cast<size_t>(settings.num_pipes));
        for (Pipe& pipe : pfds) {
            int ends[2];
            netutil::check(::pipe2(ends, O_CLOEXEC), "pipe");
            pipe.read_end.reset(ends[0]);
            pipe.write_end.reset(ends[1]);
        }

        // Perform the number of writes specified by the command line to random pipes
        std::mt19937 random(settings.seed ? *settings.seed : std::random_device{}());
        std::uniform_int_distribution<int> pick(0, settings.num_pipes - 1);
        for (int j = 0; j < settings.num_writes; j++) {
            const Pipe& chosen = pfds[static_cast<size_t>(pick(random))];
            netutil::print_line(
                format("Writing to fd: %3d (read fd: %3d)", chosen.write_end.get(), chosen.read_end.get()));
            netutil::write_all(chosen.write_end.get(), "a", 1);
        }

        // Build the file descriptor list to be supplied to poll(). This list is set to contain the file
        // descriptors for the read ends of all of the pipes.
        std::vector<pollfd> pollFd(pfds.size());
        for (size_t j = 0; j < pfds.size(); j++) {
            pollFd[j].fd = pfds[j].read_end.get();
            pollFd[j].events = POLLIN;
        }
        int ready;
        while ((ready = ::poll(pollFd.data(), pollFd.size(), settings.timeout_ms)) == -1)
            if (errno != EINTR) netutil::throw_errno("poll");
        netutil::print_line("poll() returned: " + std::to_string(ready));

        // Check which pipes have data available for reading
        for (size_t j = 0; j < pollFd.size(); j++)
            if (pollFd[j].revents & POLLIN)
                netutil::print_line(format("Readable: %d %3d", static_cast<int>(j), pollFd[j].fd));
        return 0;
    });
}

namespace {

// NUM_PIPES [NUM_WRITES] [--seed N] [--timeout MS], as TLPI's poll_pipes takes the first two.
Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "The lecture's poll() example (TLPI's poll_pipes.c): creates NUM_PIPES pipes, writes one byte\n"
        "NUM_WRITES times to pipes picked at random, then calls poll() once on all the read ends and\n"
        "prints what it returned and which pipes are readable. Each pipe takes two descriptors\n"
        "(ulimit -n bounds NUM_PIPES)."};
    Settings settings;
    app.add_option("NUM_PIPES", settings.num_pipes, "how many pipes, 1 to 100000")
        ->required()
        ->check(netutil::whole_number(1, 100000).description(""));
    app.add_option("NUM_WRITES", settings.num_writes,
                   "how many one-byte writes, each to a pipe picked at random,\n0 to 1000000")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 1000000).description(""));
    app.add_option("--seed", settings.seed, "seed of the random choice of pipes (default: a new one each run)");
    app.add_option("--timeout", settings.timeout_ms, "poll()'s timeout in milliseconds, 0 (only look) to 60000")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 60000).description(""));
    netutil::parse_or_exit(app, argc, argv);
    return settings;
}

}  // namespace
