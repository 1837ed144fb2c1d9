// 04_prefork/options.hpp: the command line the servers of labs 04 (processes) and 05 (threads) share, the
// way they share the protocol: PORT, the pool's size, --mode, --idle-timeout, --max-clients and --bind.
// Each lab's parse_settings() (in its server.cpp) adds its own options: 04 --threads and --grace, 05
// --array-size. The limits these options set are explained in each lab's README ("Limits").
#pragma once

#include "04_prefork/protocol.hpp"
#include "netutil/cli.hpp"
#include "netutil/socket.hpp"

#include <cctype>
#include <string>
#include <utility>
#include <vector>

namespace byte_count {

// What both labs' servers are told on the command line; each lab's Settings adds its own.
struct ServerSettings {
    int port = kDefaultPort;
    std::string bind_address = netutil::kAnyAddress;
    int idle_timeout_s = 10;  // 0: none (the book's servers)
    int max_clients = 256;    // a worker per client (04's fork, 05's thread): workers serving at once
    int idle_timeout_ms() const { return idle_timeout_s > 0 ? idle_timeout_s * 1000 : -1; }
};

// A lab's modes by name, in the order --help lists them.
template <typename Mode>
using ModeNames = std::vector<std::pair<std::string, Mode>>;

template <typename Mode>
std::string mode_name(const ModeNames<Mode>& names, Mode mode) {
    for (const auto& [name, value] : names)
        if (value == mode) return name;
    return "?";
}

// The words that differ between the labs' --help.
struct OptionWords {
    std::string made_of;     // "processes"
    std::string workers;     // "children": NCHILDREN is the pool's size
    std::string per_client;  // the mode with a worker per client, "fork"
    std::string mode_help;   // the modes
    std::string on_stop;     // what Ctrl-C does, after "Ctrl-C, SIGTERM or SIGHUP: " (lines within 100 columns)
};

// Describes the server (--help's first lines), then adds the shared options, positionals first: PORT, then
// the pool's size into `workers`.
template <typename Mode>
void add_server_options(CLI::App& app, ServerSettings& settings, int& workers, Mode& mode, const ModeNames<Mode>& names,
                        const OptionWords& words) {
    app.description("Server design alternatives with " + words.made_of +
                    " (UNP ch. 30): every mode serves the byte-count protocol\n"
                    "(a client writes a count from 1 to 1048576 and a newline, the server writes that many bytes).\n"
                    "Anything else gets one `error: ...` line and the connection is closed.\n"
                    "Ctrl-C, SIGTERM or SIGHUP: " +
                    words.on_stop + ", exit 0.");
    app.add_option("PORT", settings.port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::port_number(0));
    std::string workers_name = "N" + words.workers;
    for (char& c : workers_name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    app.add_option(workers_name, workers, words.workers + " in the pool (the pools only)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 1000));
    app.add_option("--mode,--model", mode, words.mode_help)  // --model: the old spelling, kept working
        ->transform(netutil::one_of(names))
        ->type_name("MODE")
        ->default_str(mode_name(names, mode));
    app.add_option("--idle-timeout", settings.idle_timeout_s,
                   "seconds a connection may stay idle or not read its reply (0: never)")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 86400));
    app.add_option("--max-clients", settings.max_clients,
                   words.per_client + " mode: " + words.workers + " serving at once (more wait in the backlog)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 100000));
    app.add_option("--bind", settings.bind_address, "address to listen on (:: every address, 0.0.0.0 IPv4 only)")
        ->capture_default_str();
}

}  // namespace byte_count
