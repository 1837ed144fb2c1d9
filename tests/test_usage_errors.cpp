// Usage errors of every program of the kit, run as a student types them: each bad command line exits 2 with
// exactly one line on stderr, `program: ...`, that names the option or argument and says what it takes in
// plain words (never CLI11's own wording: `Value abc not in range`, `Check ... FAILED`, `The following
// argument was not expected`).
//
// Demo: ./server abc   ->   server: PORT: 'abc' is not a port number (0 to 65535) (see --help)
//
// Slides: none; DESIGN.md's conventions (a usage error exits 2 with one line naming the option).
#include "harness.hpp"

#include <gtest/gtest.h>
#include <regex>
#include <unistd.h>

using namespace harness;

namespace {

struct BadCommand {
    std::string lab, name;          // the program: LAB/NAME
    std::vector<std::string> args;  // what the student typed after it
    std::string line;               // the one line on stderr, without the newline
};

// The wording CLI11 uses on its own, which no usage error of the kit may show.
const std::regex kCli11Wording(
    "Value .* not in range|Check .* FAILED|not expected|is required|required .* missing|Could not convert|"
    "not an allowed value|Should be true/false|INT|FLOAT|TEXT");

const std::vector<BadCommand> kBadCommands = {
    // 01: the slide's server, its client and the assignment's programs.
    {"01_mtserver", "server", {"abc"}, "server: PORT: 'abc' is not a port number (0 to 65535) (see --help)"},
    {"01_mtserver", "server", {"70000"}, "server: PORT: '70000' is not a port number (0 to 65535) (see --help)"},
    {"01_mtserver", "server", {"0", "0"}, "server: NCLIENTS: '0' is not a whole number from 1 to 1000 (see --help)"},
    {"01_mtserver",
     "server",
     {"0", "1", "extra"},
     "server: too many arguments: 'extra' (the arguments are PORT NCLIENTS) (see --help)"},
    {"01_mtserver", "server", {"--bogus"}, "server: '--bogus' is not an option (see --help)"},
    {"01_mtserver", "server", {"--stop=maybe"}, "server: --stop is a switch: it takes no value (see --help)"},
    {"01_mtserver",
     "server",
     {"--bind"},
     "server: missing a value for --bind: address to listen on (:: is every address, IPv6 and IPv4; 0.0.0.0 is "
     "IPv4 only) (see --help)"},
    {"01_mtserver",
     "client",
     {"localhost", "port"},
     "client: PORT: 'port' is not a port number (0 to 65535) (see --help)"},
    {"01_mtserver",
     "stopflag",
     {"--interval-ms", "-5"},
     "stopflag: --interval-ms: '-5' is not a whole number from 0 to 1000 (see --help)"},
    {"01_mtserver",
     "counter",
     {"--threads", "1.5"},
     "counter: --threads: '1.5' is not a whole number from 1 to 64 (see --help)"},
    {"01_mtserver",
     "prodcons",
     {"--units", "0"},
     "prodcons: --units: '0' is not a whole number from 1 to 100000 (see --help)"},
    // 02
    {"02_mtnserver",
     "server",
     {"0", "3", "0"},
     "server: NREQUESTS: '0' is not a whole number from 1 to 1000000000 (see --help)"},
    {"02_mtnserver",
     "server",
     {"0", "3", "5", "7"},
     "server: too many arguments: '7' (the arguments are PORT NCLIENTS NREQUESTS) (see --help)"},
    {"02_mtnserver", "server", {"--poll", "0"}, "server: --poll: '0' is not a number from 0.001 to 60 (see --help)"},
    {"02_mtnserver",
     "client",
     {"-n", "many"},
     "client: --count: 'many' is not a whole number from 1 to 1000000 (see --help)"},
    // 03
    {"03_udp_mp",
     "server",
     {"--mode", "random"},
     "server: --mode: 'random' is not one of: iterative, fork, pool, conversation (see --help)"},
    {"03_udp_mp",
     "server",
     {"--mode", "pool", "-w", "0"},
     "server: --workers: '0' is not a whole number from 1 to 256 (see --help)"},
    {"03_udp_mp",
     "client",
     {"--timeout", "abc"},
     "client: --timeout: 'abc' is not a number from 0.01 to 600 (see --help)"},
    // 04, 05
    {"04_prefork",
     "server",
     {"--mode", "threads"},
     "server: --mode: 'threads' is not one of: iterative, fork, nolock, flock, mutex, pass, hybrid (see --help)"},
    {"04_prefork", "server", {"--wait", "sleep"}, "server: --wait: 'sleep' is not one of: accept, poll (see --help)"},
    {"04_prefork", "server", {"--mode", "mutex", "--wait", "poll"}, "server: --wait is for --mode nolock"},
    {"04_prefork",
     "client",
     {"localhost", "9877", "0"},
     "client: NCHILDREN: '0' is not a whole number from 1 to 1000 (see --help)"},
    {"05_prethread",
     "server",
     {"--mode", "pool"},
     "server: --mode: 'pool' is not one of: thread, accept, main (see --help)"},
    {"05_prethread", "server", {"0", "-3"}, "server: NTHREADS: '-3' is not a whole number from 1 to 1000 (see --help)"},
    // 06, 07
    {"06_sigio", "server", {"0", "5"}, "server: too many arguments: '5' (the arguments are PORT) (see --help)"},
    {"06_sigio", "server", {"--grace", "-1"}, "server: --grace: '-1' is not a number from 0 to 3600 (see --help)"},
    {"07_epoll",
     "server",
     {"--mode", "kqueue"},
     "server: --mode: 'kqueue' is not one of: select, poll, epoll, epoll-et, uring (see --help)"},
    {"07_epoll",
     "client",
     {"-c", "0"},
     "client: --connections: '0' is not a whole number from 1 to 100000 (see --help)"},
    // 08
    {"08_webclient",
     "server",
     {"-c", "threads"},
     "server: --concurrency: 'threads' is not one of: iterative, thread, thread-pool, process, process-pool, async, "
     "uring (see --help)"},
    {"08_webclient",
     "server",
     {"-c", "uring", "--workers", "0"},
     "server: --workers: '0' is not a whole number from 1 to 64 (see --help)"},
    {"08_webclient",
     "server",
     {"-p"},
     "server: missing a value for --port: port to bind to (0: any free port) (see --help)"},
    {"08_webclient", "client", {}, "client: missing NCONNS: maximum number of simultaneous connections (see --help)"},
    {"08_webclient",
     "client",
     {"4", "localhost", "index.html", "a.txt", "-p", "0"},
     "client: --port: '0' is not a port number (1 to 65535) (see --help)"},
    // 09, 10
    {"09_mandelbrot",
     "server",
     {"--schedule", "random"},
     "server: --schedule: 'random' is not one of: static, dynamic (see --help)"},
    {"09_mandelbrot", "server", {"0", "0"}, "server: NWORKERS: '0' is not a whole number from 1 to 256 (see --help)"},
    {"09_mandelbrot",
     "client",
     {"--retry", "-1"},
     "client: --retry: '-1' is not a whole number from 0 to 3600 (see --help)"},
    {"10_pi_montecarlo", "server", {"--seed", "abc"}, "server: --seed: 'abc' is not a whole number (see --help)"},
    {"10_pi_montecarlo",
     "server",
     {"--jobs", "0"},
     "server: --jobs: '0' is not a whole number from 1 to 1000000 (see --help)"},
    {"10_pi_montecarlo",
     "client",
     {"localhost", "1", "2"},
     "client: too many arguments: '2' (the arguments are HOST PORT) (see --help)"},
    // The slides' small programs and the newer options.
    {"06_sigio",
     "sigio_stdin",
     {"extra"},
     "sigio_stdin: too many arguments: 'extra' (it takes options only) (see --help)"},
    {"07_epoll", "poll_pipes", {"0"}, "poll_pipes: NUM_PIPES: '0' is not a whole number from 1 to 100000 (see --help)"},
    {"07_epoll", "client", {"--server-pid", "x"}, "client: --server-pid: 'x' is not a process id or auto (see --help)"},
    {"04_prefork",
     "server",
     {"--mode", "hybrid", "--threads", "0"},
     "server: --threads: '0' is not a whole number from 1 to 1000 (see --help)"},
    {"08_webclient",
     "client",
     {"2", "localhost", "a", "--mode", "poll"},
     "client: --mode: 'poll' is not one of: threads, poll-threads, nonblock (see --help)"},
};

// Every program, for the errors any of them can meet (08's client and poll_pipes with the arguments they
// require, which CLI11 checks first).
const std::vector<std::pair<std::string, std::string>> kPrograms = {
    {"01_mtserver", "server"},   {"01_mtserver", "client"},      {"01_mtserver", "stopflag"},
    {"01_mtserver", "counter"},  {"01_mtserver", "prodcons"},    {"02_mtnserver", "server"},
    {"02_mtnserver", "client"},  {"03_udp_mp", "server"},        {"03_udp_mp", "client"},
    {"04_prefork", "server"},    {"04_prefork", "client"},       {"05_prethread", "server"},
    {"05_prethread", "client"},  {"06_sigio", "server"},         {"06_sigio", "client"},
    {"07_epoll", "server"},      {"07_epoll", "client"},         {"08_webclient", "server"},
    {"08_webclient", "client"},  {"09_mandelbrot", "server"},    {"09_mandelbrot", "client"},
    {"09_mandelbrot", "mpi"},    {"10_pi_montecarlo", "server"}, {"10_pi_montecarlo", "client"},
    {"10_pi_montecarlo", "mpi"}, {"06_sigio", "sigio_stdin"},    {"07_epoll", "poll_pipes"},
};

std::string shown(const std::vector<std::string>& args) {
    std::string text;
    for (const auto& arg : args) text += " " + arg;
    return text;
}

// Runs `path args` with no input: exit 2, nothing on stdout, one line on stderr, which it returns.
std::string usage_error_of(const std::string& path, const std::vector<std::string>& args) {
    std::vector<std::string> argv{path};
    argv.insert(argv.end(), args.begin(), args.end());
    const Result result = run(argv, "");
    EXPECT_EQ(result.status, 2) << path << shown(args) << "\n" << result.err;
    EXPECT_EQ(result.out, "") << path << shown(args);
    const auto err = lines(result.err);
    EXPECT_EQ(err.size(), 1u) << path << shown(args) << "\n" << result.err;
    return err.empty() ? "" : err.front();
}

}  // namespace

TEST(UsageErrors, EachNamesTheOptionAndWhatItTakesInOneLine) {
    for (const BadCommand& bad : kBadCommands) {
        const std::string path = program(bad.lab, bad.name);
        if (bad.name == "mpi" && ::access(path.c_str(), X_OK) != 0) continue;  // not built without Open MPI
        const std::string line = usage_error_of(path, bad.args);
        EXPECT_EQ(line, bad.line) << bad.lab << "/" << bad.name << shown(bad.args);
        EXPECT_FALSE(std::regex_search(line, kCli11Wording)) << line;
    }
}

TEST(UsageErrors, EveryProgramSaysAnUnknownOptionIsNotOne) {
    for (const auto& [lab, name] : kPrograms) {
        const std::string path = program(lab, name);
        if (name == "mpi" && ::access(path.c_str(), X_OK) != 0) continue;
        std::vector<std::string> args;
        if (lab == "08_webclient" && name == "client") args = {"2", "localhost", "index.html", "a.txt"};
        if (name == "poll_pipes") args = {"1"};
        for (const std::string bogus : {"--bogus", "--bogus=1"}) {
            args.push_back(bogus);
            EXPECT_EQ(usage_error_of(path, args), name + ": '--bogus' is not an option (see --help)") << lab;
            args.pop_back();
        }
    }
}

// 01 and 02 ask for the numbers the command line left out: a bad answer says what was asked.
TEST(UsageErrors, ABadAnswerAtThePromptSaysWhatWasAsked) {
    const Result clients = run({program("02_mtnserver", "server"), "0"}, "0\n");
    EXPECT_EQ(clients.status, 2);
    EXPECT_EQ(lines(clients.err),
              std::vector<std::string>{"server: the number of clients must be a whole number from 1 to 1000, not '0'"});
    const Result requests = run({program("02_mtnserver", "server"), "0", "3"}, "lots\n");
    EXPECT_EQ(requests.status, 2);
    EXPECT_EQ(lines(requests.err),
              std::vector<std::string>{"server: the number of requests must be a whole number from 1 to 1000000000, "
                                       "not 'lots'"});
    const Result first = run({program("01_mtserver", "server"), "0"}, "1001\n");
    EXPECT_EQ(first.status, 2);
    EXPECT_EQ(lines(first.err), std::vector<std::string>{
                                    "server: the number of clients must be a whole number from 1 to 1000, not '1001'"});
}
