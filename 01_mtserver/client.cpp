// 01_mtserver/client.cpp: connects, asks for a message, sends it, and closes (mtclient.py of the slide).
//
// Mirrors: the lecture "Multithreaded Servers" (MCS 275 lecture 32), slide "Waiting for Data from 3 Clients"
// (mtclient.py).
// Usage: ./client [HOST] [PORT] [--message TEXT]     (prompts `Give message : ` without --message)
// See also: server.cpp.
#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/io.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <cerrno>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <system_error>

namespace {

constexpr uint16_t kDefaultPort = 11267;

struct Settings {
    std::string host = "localhost";
    uint16_t port = kDefaultPort;
    std::optional<std::string> message;  // asked with `Give message : ` when missing
};
Settings parse_settings(int argc, char** argv);

// True when the server has closed the connection (it never sends anything, so readable means EOF or reset).
bool server_closed(int fd) {
    if (netutil::wait_readable(fd, -1, 0) != netutil::Wait::Ready) return false;
    char byte;
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && (errno == ECONNRESET || errno == ENOTCONN));
}

}  // namespace

int main(int argc, char** argv) {
    const Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        const netutil::UniqueFd server = netutil::tcp_connect(settings.host, settings.port);
        netutil::print_line("client is connected");
        const std::optional<std::string> message =
            settings.message ? settings.message : netutil::prompt_line("Give message : ");
        if (!message) {
            netutil::print_line("no message (end of input): closing without sending");
            return 0;
        }
        // A server stopped while we sat at the prompt (--stop, Ctrl-C) has closed the connection already.
        const std::string closed = "the server closed the connection: '" + *message + "' was not sent";
        if (server_closed(server.get())) throw std::runtime_error(closed);
        // The newline ends the message; shutting down our side tells the server nothing more will come.
        try {
            netutil::write_all(server.get(), *message + "\n");
            netutil::check(::shutdown(server.get(), SHUT_WR), "shutdown");
        } catch (const std::system_error& error) {
            const int code = error.code().value();
            if (code == ECONNRESET || code == EPIPE || code == ENOTCONN) throw std::runtime_error(closed);
            throw;
        }
        return 0;
    });
}

namespace {

Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "Client of the multithreaded server (lecture 32): connects, prints `client is connected`, then\n"
        "sends one message (a line; the server prints up to 1 MiB of it) and closes."};
    Settings settings;
    int port = kDefaultPort;
    app.add_option("HOST", settings.host, "server to connect to")->capture_default_str();
    app.add_option("PORT", port, "server port")->capture_default_str()->check(netutil::kPortRange);
    app.add_option("-m,--message", settings.message,
                   "the message to send (asked with `Give message : `\n"
                   "when missing)");
    netutil::parse_or_exit(app, argc, argv);
    settings.port = static_cast<uint16_t>(port);
    return settings;
}

}  // namespace
