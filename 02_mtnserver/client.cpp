// 02_mtnserver/client.cpp: one request per connection: connects, sends one message, closes its side,
// and waits for the server to close the connection, which tells it the request was taken.
//
// Mirrors: the lecture "Multithreaded Servers" (MCS 275 lecture 32), slide "n Handler Threads for m Client
// Requests" (the clients of mtnserver.py, which the slide shows sending 1, 2, 3, ...).
// Usage: ./client [HOST] [PORT] [--message TEXT] [--count N]
//   (prompts `Give message : ` when there is neither --message nor --count)
// See also: server.cpp.
#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <cerrno>
#include <optional>
#include <string>
#include <sys/socket.h>

namespace {

constexpr uint16_t kDefaultPort = 11267;

struct Settings {
    std::string host = "localhost";
    uint16_t port = kDefaultPort;
    std::optional<std::string> message;
    long count = 0;
    double timeout_seconds = 10;
};
Settings parse_settings(int argc, char** argv);

// One request: connect, send the message and a newline, shut down our side, then wait for the server
// to close. EOF means a handler took the message; a reset means the server closed (its m requests were
// done) before any handler accepted this connection.
// With no message given, it is asked for once connected, as on the slides: a client that takes its time
// to type holds its handler meanwhile. Returns false when there was nothing to send (end of input).
bool send_request(const Settings& settings, std::optional<std::string> message) {
    const auto timeout = std::chrono::milliseconds(static_cast<long>(settings.timeout_seconds * 1000));
    const netutil::UniqueFd server = netutil::tcp_connect(settings.host, settings.port, timeout);
    netutil::print_line("client is connected");
    if (!message) message = netutil::prompt_line("Give message : ");
    if (!message) {
        netutil::print_line("no message (end of input): closing without sending");
        return false;
    }
    try {
        netutil::write_all(server.get(), *message + "\n");
        netutil::check(::shutdown(server.get(), SHUT_WR), "shutdown");
        char byte;
        for (;;) {
            const netutil::Wait waited = netutil::wait_readable(server.get(), -1, static_cast<int>(timeout.count()));
            if (waited == netutil::Wait::TimedOut)
                netutil::throw_error(ETIMEDOUT, "no handler took the request within " +
                                                    std::to_string(timeout.count()) + " ms (every handler busy?)");
            if (netutil::read_some(server.get(), &byte, 1) == 0) break;  // the server's handler closed
        }
    } catch (const std::system_error& error) {
        // A reset (on the write or the read) or a broken pipe: the server went away with our request.
        const int code = error.code().value();
        if (code == ECONNRESET || code == EPIPE || code == ENOTCONN)
            netutil::throw_error(code, "the server closed before handling '" + *message + "'");
        throw;
    }
    netutil::print_line("sent " + *message);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        if (settings.count > 0) {
            for (long i = 1; i <= settings.count; ++i)
                send_request(settings, settings.message.value_or(std::to_string(i)));
            return 0;
        }
        send_request(settings, settings.message);
        return 0;
    });
}

namespace {

Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "Client of the n-handlers server (lecture 32, section 3): one message per connection. The server\n"
        "closing the connection tells it a handler took the request."};
    Settings settings;
    int port = kDefaultPort;
    app.add_option("HOST", settings.host, "server to connect to")->capture_default_str();
    app.add_option("PORT", port, "server port")->capture_default_str()->check(netutil::kPortRange);
    app.add_option("-m,--message", settings.message,
                   "the message to send (asked with `Give message : ` when\n"
                   "there is neither --message nor --count)");
    app.add_option("-n,--count", settings.count,
                   "send N requests (1 to 1000000), one connection after another;\n"
                   "the messages are 1, 2, ..., N (as on the slide), or the --message\n"
                   "text each time")
        ->check(netutil::whole_number(1, 1000000).description(""));
    app.add_option("--timeout", settings.timeout_seconds,
                   "seconds (0.1 to 3600) to wait for the connection, and then\n"
                   "for a handler to take the request")
        ->capture_default_str()
        ->check(netutil::real_number(0.1, 3600.0).description(""));
    netutil::parse_or_exit(app, argc, argv);
    settings.port = static_cast<uint16_t>(port);
    return settings;
}

}  // namespace
