// 07_epoll/options.hpp: the command line of the single-process echo servers, 07's and 06_sigio's (as 06
// builds 07's echo client): PORT, --bind, --quiet and --grace, with their help and their checks.
#pragma once

#include "netutil/cli.hpp"
#include "netutil/socket.hpp"

#include <string>

namespace echo {

struct ServerOptions {
    int port = 0;
    std::string bind_address = netutil::kAnyAddress;
    bool quiet = false;        // no line per connection
    double grace_seconds = 5;  // after Ctrl-C, how long connected clients may go on
};

// Adds PORT (default `default_port`), --bind, --quiet (`quiet_help` says what it leaves out) and --grace.
inline void add_server_options(CLI::App& app, ServerOptions& options, int default_port, const std::string& quiet_help) {
    options.port = default_port;
    app.add_option("PORT", options.port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    app.add_option("--bind", options.bind_address,
                   "address to listen on (:: is every address, IPv6 and IPv4;\n"
                   "0.0.0.0 is IPv4 only)")
        ->capture_default_str();
    app.add_flag("-q,--quiet", options.quiet, quiet_help);
    app.add_option("--grace", options.grace_seconds,
                   "after Ctrl-C, SIGTERM or SIGHUP: seconds (0 to 3600) connected\n"
                   "clients may go on before they are cut off")
        ->capture_default_str()
        ->check(netutil::real_number(0.0, 3600.0).description(""));
}

// The whole command line of a server that has only these options (06_sigio's): `description` heads --help.
// A usage error exits 2 here.
inline ServerOptions parse_server_options(int argc, char** argv, const std::string& description, int default_port,
                                          const std::string& quiet_help) {
    CLI::App app{description};
    ServerOptions options;
    add_server_options(app, options, default_port, quiet_help);
    netutil::parse_or_exit(app, argc, argv);
    return options;
}

}  // namespace echo
