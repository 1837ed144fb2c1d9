// 04_prefork/server.cpp: the server design alternatives with processes: iterative, one fork per client,
// and the preforked pools (children calling accept with no lock, with an fcntl lock, with a shared
// pthread mutex; or the parent accepting and passing the descriptor), and Apache's hybrid: preforked
// children of several threads each.
//
// Mirrors: seeds/04_lecture_network_programming_server_design.txt, "Server Design Alternatives" through
// "Comparing Multi Process/Multi Thread Designs" (UNP ch. 30: serv00 to serv05), and "Concurrency in
// Apache" (the hybrid: children of several threads, like Apache's worker MPM). Every model serves the
// same byte-count protocol (protocol.hpp): the client writes "4000\n", the server writes 4000 bytes.
// On Ctrl-C the parent stops and reaps every child, then prints how many connections each child served
// and its CPU time, children included: the lecture's table subtracts the iterative server's CPU time from
// each model's to get its "process control" cost. The pools whose children accept also print their
// wake-ups per connection: the thundering herd of `nolock`, which the locks cure.
//
// Watch for: `fork` burns far more CPU than the pools; with `nolock` the kernel spreads clients over the
// children, but wakes every idle one for each connection; with more children than clients at once, `pass`
// gives most clients to the first children in its table; kill a child (kill -9 PID) and the parent
// replaces it, even one holding the accept lock.
//
// Demo (two terminals):
//   ./server 9877 5                   (or ./server 9877 5 --mode fork, flock, mutex, pass, hybrid, iterative)
//   ./client localhost 9877 5 500 4000
//   then Ctrl-C the server to see the per-child counts and the CPU time.
// Model files: iterative.cpp, fork_per_client.cpp, prefork.cpp (nolock, flock, mutex, hybrid),
// descriptor_passing.cpp (pass); models.hpp and models.cpp hold what they share. See also: client.cpp.
#include "04_prefork/models.hpp"

#include "netutil/cli.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <map>

int main(int argc, char** argv) {
    using prefork::Model;
    CLI::App app{
        "Server design alternatives with processes (UNP ch. 30): every model serves the byte-count\n"
        "protocol (a client writes a count from 1 to 1048576 and a newline, the server writes that many\n"
        "bytes; several requests per connection). Anything else (a line over 64 bytes, 0, not a number)\n"
        "gets one `error: ...` line and the connection is closed. Ctrl-C, SIGTERM or SIGHUP: children\n"
        "stopped and reaped, then connections per child and CPU time printed, exit 0."};
    int port = 9877;
    std::string bind_address = netutil::kAnyAddress;
    prefork::Settings settings;
    const std::map<std::string, Model> models = {
        {"iterative", Model::Iterative}, {"fork", Model::Fork}, {"nolock", Model::NoLock}, {"flock", Model::Flock},
        {"mutex", Model::Mutex},         {"pass", Model::Pass}, {"hybrid", Model::Hybrid}};
    app.add_option("PORT", port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    app.add_option("NCHILDREN", settings.nchildren,
                   "children in the pool (nolock, flock, mutex, pass, hybrid; iterative and fork ignore it)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 1000));
    std::string model = "nolock";
    app.add_option("--mode,--model", model,
                   "iterative: one client at a time; fork: a child per client; nolock: preforked children call "
                   "accept; flock: ... under an fcntl lock; mutex: ... under a shared pthread mutex; pass: the "
                   "parent accepts and passes the descriptor to a child; hybrid: children of --threads threads "
                   "each (Apache's worker), accepting under an fcntl lock and a mutex")
        ->transform(netutil::one_of({"iterative", "fork", "nolock", "flock", "mutex", "pass", "hybrid"}))
        ->capture_default_str();
    app.add_option("--threads", settings.threads, "hybrid model: threads in each child")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 1000));
    app.add_option("--idle-timeout", settings.idle_timeout_s,
                   "seconds a connection may go without completing a request, or a client without reading its "
                   "reply, before it is closed (0: never, as in the book, so silent clients can starve a pool)")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 86400));
    app.add_option("--max-clients", settings.max_clients,
                   "fork model: children serving at once; above it the server says so once and new clients wait "
                   "in the listen backlog")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 100000));
    app.add_option("--grace", settings.grace_s,
                   "on Ctrl-C, SIGTERM or SIGHUP: seconds busy children get to finish the request in hand "
                   "before being killed")
        ->capture_default_str()
        ->check(netutil::real_number(0.0, 3600.0));
    app.add_option("--bind", bind_address,
                   "address to listen on (:: is every address, IPv6 and IPv4; 0.0.0.0 is IPv4 only)")
        ->capture_default_str();
    netutil::parse_or_exit(app, argc, argv);
    settings.model = models.at(model);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();  // inherited by every child: a vanished client is an EPIPE, not a death
        prefork::Server server{netutil::tcp_listen(bind_address, static_cast<uint16_t>(port)), {}, {}, settings};
        netutil::print_listening(server.listener.get());
        const bool pool = settings.model != Model::Iterative && settings.model != Model::Fork;
        netutil::print_line(
            "mode " + prefork::model_name(settings.model) + ": " + prefork::model_description(settings.model) +
            (settings.model == Model::Hybrid ? ", " + netutil::count(settings.threads, "thread") + " each"
                                             : std::string()) +
            (pool ? ", " + netutil::count(settings.nchildren, "child", "children") : std::string()));
        switch (settings.model) {
            case Model::Iterative: prefork::run_iterative(server); break;
            case Model::Fork: prefork::run_fork_per_client(server); break;
            case Model::NoLock:
            case Model::Flock:
            case Model::Mutex:
            case Model::Hybrid: prefork::run_preforked(server); break;
            case Model::Pass: prefork::run_descriptor_passing(server); break;
        }
        return 0;
    });
}
