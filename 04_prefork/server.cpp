// 04_prefork/server.cpp: the server design alternatives with processes: iterative, one fork per client,
// and the preforked pools (children calling accept with no lock, with an fcntl lock, with a shared
// pthread mutex; or the parent accepting and passing the descriptor), and Apache's hybrid: preforked
// children of several threads each.
//
// Mirrors the lecture "Network Programming" (Stevens UNP ch. 30: serv00 to serv05), slides "Server Design
// Alternatives" through "Comparing Multi Process/Multi Thread Designs", and "Concurrency in Apache" (the
// hybrid: children of several threads, like Apache's worker MPM). Every model serves the same byte-count
// protocol (protocol.hpp): the client writes "4000\n", the server writes 4000 bytes.
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
// descriptor_passing.cpp (pass); models.hpp and models.cpp hold what they share; options.hpp the command
// line shared with lab 05. See also: client.cpp.
#include "04_prefork/models.hpp"
#include "04_prefork/options.hpp"

#include "netutil/cli.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

prefork::Settings parse_settings(int argc, char** argv);

// The words of --help that differ from lab 05's: what the server is made of, its workers, the mode with a
// worker per client, the modes, what a stop does.
const byte_count::OptionWords kOptionWords{
    "processes", "children", "fork", "iterative, fork, or a pool: nolock, flock, mutex, pass, hybrid",
    "children stopped and reaped,\nthen connections per child and CPU time printed"};

int main(int argc, char** argv) {
    using prefork::Model;
    const prefork::Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();  // inherited by every child: a vanished client is an EPIPE, not a death
        prefork::Server server{
            netutil::tcp_listen(settings.bind_address, static_cast<uint16_t>(settings.port)), {}, {}, settings};
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

// The command line: --threads and --grace, and the options shared with lab 05 (options.hpp). A usage
// error exits 2 with one line; the limits are explained in the README.
prefork::Settings parse_settings(int argc, char** argv) {
    CLI::App app;
    prefork::Settings settings;
    app.add_option("--threads", settings.threads, "hybrid mode: threads in each child")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 1000));
    app.add_option("--grace", settings.grace_s, "seconds busy children get to finish on a stop")
        ->capture_default_str()
        ->check(netutil::real_number(0.0, 3600.0));
    const std::vector<std::pair<std::string, prefork::Wait>> waits{{"accept", prefork::Wait::Accept},
                                                                   {"poll", prefork::Wait::Poll}};
    auto* wait = app.add_option("--wait", settings.wait,
                                "nolock mode: idle children wait in accept() (the slide's code; Linux wakes one)\n"
                                "or in poll() (every child wakes for each connection: the thundering herd)")
                     ->transform(netutil::one_of(waits))
                     ->type_name("accept|poll")
                     ->default_str("accept");
    byte_count::add_server_options(app, settings, settings.nchildren, settings.model, prefork::kModels, kOptionWords);
    netutil::parse_or_exit(app, argc, argv);
    if (wait->count() > 0 && settings.model != prefork::Model::NoLock)
        netutil::usage_error("--wait is for --mode nolock");
    return settings;
}
