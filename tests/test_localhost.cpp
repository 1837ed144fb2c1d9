// tests/test_localhost.cpp: every lab's client reaches its server as `localhost`, whichever address the
// name resolves to first, and whether the server listens dual-stack (the default, `::`) or on IPv4 only
// (`--bind 0.0.0.0`). The demos and READMEs all say `localhost`.
//
// Why a suite of its own: a stock Debian or Ubuntu maps localhost to 127.0.0.1 and ::1 in /etc/hosts, and
// the resolver gives ::1 first; many test machines map it to 127.0.0.1 only. A client that tries only the
// first address works on the second kind and fails with `connect to [::1]:PORT: Connection refused` on
// the first, where a student runs it. So each case runs twice: with the machine's /etc/hosts, and with a
// Debian-style one bind-mounted over it in a private mount namespace (harness::Options::hosts_file; root
// only, skipped with a message elsewhere). tests/run.sh also runs the whole release suite under the
// Debian-style file.
//
// Slides: none; DESIGN.md's "Clients: the first positional argument is the HOST (default localhost)".
#include "tests/harness.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace harness;

namespace {

// The hosts file a case runs under.
enum class Hosts { Machine, Debian };

// One client run against its lab's server. `server` and `client` are command lines after the program;
// "PORT" in them is replaced by the server's real port. `expect` is a line the client or server prints
// once the exchange went through (checked in the client's stdout, else the server's).
struct Case {
    std::string name;
    std::string lab;
    std::vector<std::string> server;
    std::vector<std::string> client;
    std::string expect;
    std::string client_lab{};  // where the client program lives, when not in `lab`
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }
void PrintTo(Hosts hosts, std::ostream* out) {
    *out << (hosts == Hosts::Debian ? "Debian's /etc/hosts" : "this machine's /etc/hosts");
}

std::vector<std::string> with_port(std::vector<std::string> args, uint16_t port) {
    for (auto& arg : args)
        if (arg == "PORT") arg = std::to_string(port);
    return args;
}

// A small folder for 08's server to serve.
std::string served_folder() {
    static const std::string folder = [] {
        const auto dir = std::filesystem::temp_directory_path() / ("labkit-localhost-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "index.html") << "<html><body>hello</body></html>\n";
        std::ofstream(dir / "a.txt") << std::string(3000, 'a');
        std::atexit([] {
            std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                        ("labkit-localhost-" + std::to_string(::getpid())));
        });
        return dir.string();
    }();
    return folder;
}

std::vector<Case> cases() {
    return {
        {"mtserver", "01_mtserver", {"0", "1"}, {"localhost", "PORT", "--message", "hi"}, "0 received hi"},
        {"mtnserver", "02_mtnserver", {"0", "1", "1"}, {"localhost", "PORT", "--message", "hi"}, "0 handled request 1"},
        {"udp_iterative", "03_udp_mp", {"0"}, {"localhost", "PORT", "hello"}, "Socket closed"},
        {"udp_conversation",
         "03_udp_mp",
         {"0", "--mode", "conversation"},
         {"localhost", "PORT", "hello"},
         "Socket closed"},
        {"prefork", "04_prefork", {"0", "2", "--mode", "flock"}, {"localhost", "PORT", "2", "3", "100"}, ""},
        {"prethread", "05_prethread", {"0", "2", "--mode", "accept"}, {"localhost", "PORT", "2", "3", "100"}, ""},
        {"sigio",
         "06_sigio",
         {"0"},
         {"localhost", "PORT", "--connections", "5", "--messages", "3", "--size", "100"},
         ""},
        {"epoll_message", "07_epoll", {"0", "--mode", "epoll"}, {"localhost", "PORT", "--message", "hello"}, "hello"},
        {"uring_message", "07_epoll", {"0", "--mode", "uring"}, {"localhost", "PORT", "--message", "hello"}, "hello"},
        {"epoll_idle",
         "07_epoll",
         {"0", "--mode", "epoll"},
         {"localhost", "PORT", "--idle", "20", "--connections", "2", "--messages", "3", "--size", "16"},
         "holding 20 idle connections (each echoed one byte)"},
        {"web_threads",
         "08_webclient",
         {"-p", "0", "-f", served_folder()},
         {"2", "localhost", "index.html", "a.txt", "-p", "PORT"},
         ""},
        {"web_nonblock",
         "08_webclient",
         {"-p", "0", "-f", served_folder()},
         {"2", "localhost", "index.html", "a.txt", "-p", "PORT", "--mode", "nonblock"},
         ""},
        {"mandelbrot_worker",
         "09_mandelbrot",
         {"0", "1", "--width", "40", "--height", "30", "-o", "/dev/null"},
         {"localhost", "PORT"},
         ""},
        {"montecarlo_worker",
         "10_pi_montecarlo",
         {"0", "1", "--jobs", "2", "--samples", "1000"},
         {"localhost", "PORT"},
         ""},
    };
}

using Param = std::tuple<Case, Hosts, bool>;  // the case, the hosts file, the server on IPv4 only

class Localhost : public ::testing::TestWithParam<Param> {};

TEST_P(Localhost, TheClientReachesTheServerByName) {
    const auto& [c, hosts, ipv4_only] = GetParam();
    if (hosts == Hosts::Debian && !hosts_file_supported())
        GTEST_SKIP() << "a private /etc/hosts needs root (a mount namespace): run as root to test Debian's";
    std::vector<std::string> server_args = {program(c.lab, "server")};
    for (const auto& arg : c.server) server_args.push_back(arg);
    if (ipv4_only) server_args.insert(server_args.end(), {"--bind", "0.0.0.0"});
    Process server(server_args);
    const uint16_t port = server.wait_for_listening();
    ASSERT_NE(port, 0);
    EXPECT_EQ(server.out_lines().at(0),
              (ipv4_only ? "listening on 0.0.0.0:" : "listening on [::]:") + std::to_string(port));

    Options options;
    if (hosts == Hosts::Debian) options.hosts_file = debian_hosts_file();
    std::vector<std::string> client_args = {program(c.client_lab.empty() ? c.lab : c.client_lab, "client")};
    for (const auto& arg : with_port(c.client, port)) client_args.push_back(arg);
    const Result client = run(client_args, "", 30s, options);
    EXPECT_EQ(client.status, 0) << "client stdout:\n" << client.out << "client stderr:\n" << client.err;
    EXPECT_EQ(client.err.find("Connection refused"), std::string::npos) << client.err;
    if (!c.expect.empty() && client.out.find(c.expect) == std::string::npos) {
        EXPECT_TRUE(server.wait_for_text(c.expect, 5s)) << "neither the client nor the server printed: " << c.expect;
    }
    server.signal_group(SIGTERM);
    const auto status = server.wait_exit(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 0) << server.err();
}

std::string name_of(const ::testing::TestParamInfo<Param>& info) {
    const auto& [c, hosts, ipv4_only] = info.param;
    return c.lab + "_" + c.name + (hosts == Hosts::Debian ? "_debian_hosts" : "_machine_hosts") +
           (ipv4_only ? "_server_ipv4_only" : "_server_dual_stack");
}

INSTANTIATE_TEST_SUITE_P(EveryLab, Localhost,
                         ::testing::Combine(::testing::ValuesIn(cases()),
                                            ::testing::Values(Hosts::Machine, Hosts::Debian), ::testing::Bool()),
                         name_of);

// The resolver really does give ::1 first under the Debian-style file, so the cases above do test the
// fallback: checked with the system's own `getent`, in the same kind of namespace.
TEST(LocalhostHostsFile, DebianStyleHostsResolveLocalhostToIpv6First) {
    if (!hosts_file_supported()) GTEST_SKIP() << "a private /etc/hosts needs root";
    Options options;
    options.hosts_file = debian_hosts_file();
    const Result both = run({"/usr/bin/getent", "ahosts", "localhost"}, "", 10s, options);
    ASSERT_EQ(both.status, 0) << both.err;
    EXPECT_EQ(both.out.rfind("::1", 0), 0u) << "the first address of localhost is not ::1:\n" << both.out;
    EXPECT_NE(both.out.find("127.0.0.1"), std::string::npos) << both.out;
}

// A name that does not resolve: the resolver's own reason, and no unrelated errno text after it.
TEST(LocalhostHostsFile, AnUnknownHostSaysWhyInPlainWords) {
    const Result result = run({program("01_mtserver", "client"), "nosuchhost.invalid", "1", "--message", "x"});
    EXPECT_EQ(result.status, 1);
    EXPECT_EQ(result.err, "client: resolve nosuchhost.invalid: Name or service not known\n");
}

}  // namespace
