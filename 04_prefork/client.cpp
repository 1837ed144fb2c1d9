// 04_prefork/client.cpp: the load client of the server design alternatives (UNP's client.c, ch. 30).
//
// Mirrors the lecture "Network Programming" (Stevens UNP ch. 30), slide "Comparing Multi Process/Multi Thread
// Designs": the one client that drives every server model of labs 04 and 05, so their CPU times compare.
// NCHILDREN client processes each make NLOOPS connections; on each connection they ask for NBYTES bytes
// (a line "NBYTES\n"), check that exactly NBYTES come back, and close. The parent waits for them all and
// prints what they did; after any error, one more line counts the errors by kind (a connection refused or
// closed before any reply, as by a server that stops, against a reply cut short, an `error:` line or no
// reply in time). Exit status 0 only when every byte count was right.
//
// Usage:  ./client HOST PORT NCHILDREN NLOOPS NBYTES      e.g. ./client localhost 9877 5 500 4000
//         (the lecture's table: 5 children x 500 connections x 4000 bytes)
// See also: server.cpp (04_prefork), ../05_prethread/server.cpp, protocol.hpp.
#include "04_prefork/protocol.hpp"

#include "netutil/cli.hpp"
#include "netutil/cputime.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

struct Settings {
    std::string host = "localhost";
    int port = byte_count::kDefaultPort;
    int nchildren = 5;
    int nloops = 500;
    long nbytes = 4000;
    int requests = 1;       // requests per connection
    double timeout_s = 10;  // connect and reply timeout
    int max_messages = 5;   // error lines printed per child
};

// The kinds of failure, counted apart: a server that is stopping or full refuses or closes connections
// (the first two), which is no fault of its replies; the last three mean a reply was wrong or missing.
enum Failure { kNoConnection, kClosedBeforeReply, kShortReply, kErrorReply, kTimeout, kFailureKinds };

// A failed connection: what went wrong, and which kind of failure it is.
struct ConnectionFailure : std::runtime_error {
    ConnectionFailure(Failure kind, const std::string& what) : std::runtime_error(what), kind(kind) {}
    Failure kind;
};

// What one client child did, in memory shared with the parent (written by the child only, read by the
// parent after waitpid(), which orders the two).
struct ChildReport {
    long connections = 0;  // connections that got every reply right
    long long bytes = 0;
    long errors = 0;
    long failures[kFailureKinds] = {};  // errors by kind
};

std::string fmt(const char* format, double value) {
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

// One connection: `requests` times, ask for nbytes and read exactly that many. Throws ConnectionFailure.
void one_connection(const Settings& s, const std::chrono::milliseconds timeout, long long& bytes) {
    netutil::UniqueFd server;
    try {
        server = netutil::tcp_connect(s.host, static_cast<uint16_t>(s.port), timeout);
    } catch (const std::exception& error) {
        throw ConnectionFailure(kNoConnection, error.what());
    }
    netutil::set_receive_timeout(server.get(), timeout);
    const std::string request = std::to_string(s.nbytes) + "\n";
    std::vector<char> reply(static_cast<size_t>(s.nbytes));
    for (int r = 0; r < s.requests; ++r) {
        size_t got = 0;
        try {
            netutil::write_all(server.get(), request);
            while (got < reply.size()) {  // read_exact's loop, keeping count of a reply cut short by a reset
                const size_t n = netutil::read_some(server.get(), reply.data() + got, reply.size() - got);
                if (n == 0) break;
                got += n;
            }
        } catch (const std::system_error& error) {
            if (error.code().value() == ETIMEDOUT)
                throw ConnectionFailure(kTimeout, "no reply within " + fmt("%g", s.timeout_s) + " s (" +
                                                      std::to_string(got) + " of " + netutil::count(s.nbytes, "byte") +
                                                      " came)");
            throw ConnectionFailure(got == 0 ? kClosedBeforeReply : kShortReply, std::string(error.what()) + " after " +
                                                                                     std::to_string(got) + " of " +
                                                                                     netutil::count(s.nbytes, "byte"));
        }
        if (got != reply.size()) {
            std::string what = "asked for " + netutil::count(s.nbytes, "byte") + ", got " + std::to_string(got) +
                               " before the server closed";
            const std::string start(reply.data(), std::min<size_t>(got, 80));
            const bool error_line = start.rfind("error:", 0) == 0;
            if (error_line) what += ": " + start.substr(0, start.find('\n'));
            throw ConnectionFailure(error_line ? kErrorReply : got == 0 ? kClosedBeforeReply : kShortReply, what);
        }
        bytes += s.nbytes;
    }
}

// The body of one client child: NLOOPS connections, one after the other, as in UNP's client.c.
void child_main(int index, const Settings& s, ChildReport& report) {
    const auto timeout = std::chrono::milliseconds(static_cast<long>(s.timeout_s * 1000));
    for (int loop = 0; loop < s.nloops; ++loop) {
        try {
            one_connection(s, timeout, report.bytes);
            ++report.connections;
        } catch (const std::exception& error) {
            const auto* failure = dynamic_cast<const ConnectionFailure*>(&error);
            ++report.failures[failure != nullptr ? failure->kind : kClosedBeforeReply];
            if (++report.errors <= s.max_messages)
                netutil::print_error("client: child " + std::to_string(index) + ", connection " + std::to_string(loop) +
                                     ": " + error.what());
        }
    }
    if (report.errors > s.max_messages)
        netutil::print_error("client: child " + std::to_string(index) + ": " +
                             std::to_string(report.errors - s.max_messages) + " more errors not shown");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Load client of the server models (labs 04 and 05): NCHILDREN processes each make NLOOPS\n"
        "connections asking for NBYTES bytes, check every byte count, and print a summary; after any\n"
        "error, a second line counts the errors by kind (the first 5 of each child are shown on stderr).\n"
        "Exit status 0 only when every reply was right."};
    Settings s;
    app.add_option("HOST", s.host, "server to connect to")->capture_default_str();
    app.add_option("PORT", s.port, "server port")->capture_default_str()->check(netutil::kPortRange);
    app.add_option("NCHILDREN", s.nchildren, "client processes running at once")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 1000));
    app.add_option("NLOOPS", s.nloops, "connections each child makes, one after the other")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 10000000));
    app.add_option("NBYTES", s.nbytes, "bytes to ask for on each request (1 to 1048576)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, byte_count::kMaxBytes));
    app.add_option("--requests", s.requests, "requests on each connection before closing it")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 100000));
    app.add_option("--timeout", s.timeout_s, "seconds to wait for a connection, or for more of a reply")
        ->capture_default_str()
        ->check(netutil::real_number(0.1, 3600.0));
    netutil::parse_or_exit(app, argc, argv);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        // One report slot per child, in shared memory (MAP_SHARED survives fork).
        const size_t size = sizeof(ChildReport) * static_cast<size_t>(s.nchildren);
        void* shared = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED) netutil::throw_errno("mmap");
        auto* reports = static_cast<ChildReport*>(shared);
        for (int i = 0; i < s.nchildren; ++i) new (&reports[i]) ChildReport{};

        const netutil::Stopwatch wall;
        std::vector<pid_t> children;
        for (int i = 0; i < s.nchildren; ++i) {
            const pid_t pid = ::fork();
            if (pid == -1) netutil::throw_errno("fork");
            if (pid == 0) {
                child_main(i, s, reports[i]);
                ::_exit(0);
            }
            children.push_back(pid);
        }
        long died = 0;
        for (size_t i = 0; i < children.size(); ++i) {
            int status = 0;
            while (::waitpid(children[i], &status, 0) == -1)
                if (errno != EINTR) netutil::throw_errno("waitpid");
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                netutil::print_error("client: child " + std::to_string(i) + " " + netutil::describe_status(status));
                ++died;
            }
        }
        const double seconds = wall.seconds();

        long connections = 0, errors = died;
        long long bytes = 0;
        long failures[kFailureKinds] = {};
        for (int i = 0; i < s.nchildren; ++i) {
            connections += reports[i].connections;
            bytes += reports[i].bytes;
            errors += reports[i].errors;
            for (int kind = 0; kind < kFailureKinds; ++kind) failures[kind] += reports[i].failures[kind];
        }
        ::munmap(shared, size);
        netutil::print_line(netutil::count(s.nchildren, "child", "children") + " x " +
                            netutil::count(s.nloops, "connection") + " x " + netutil::count(s.nbytes, "byte") +
                            (s.requests > 1 ? " x " + netutil::count(s.requests, "request") : std::string()) + ": " +
                            netutil::count(connections, "connection") + ", " + netutil::count(bytes, "byte") + ", " +
                            netutil::count(errors, "error") + ", " + fmt("%.3f", seconds) + " s wall (" +
                            fmt("%.0f", seconds > 0 ? static_cast<double>(connections) / seconds : 0) +
                            " connections/s)");
        // Only the first errors of each child are shown on stderr: this line counts them all, by kind.
        if (errors > 0)
            netutil::print_line("errors: " + std::to_string(failures[kNoConnection]) + " not connected, " +
                                std::to_string(failures[kClosedBeforeReply]) + " closed before any reply, " +
                                std::to_string(failures[kShortReply]) + " short replies, " +
                                std::to_string(failures[kErrorReply]) + " error replies, " +
                                std::to_string(failures[kTimeout]) + " timeouts, " + std::to_string(died) +
                                " client children died");
        return errors == 0 ? 0 : 1;
    });
}
