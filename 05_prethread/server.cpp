// 05_prethread/server.cpp: the server design alternatives with threads: one thread per client, a pool of
// threads each calling accept() under a mutex, and a pool fed by the main thread through a shared array.
//
// Mirrors the lecture "Network Programming" (Stevens UNP ch. 30: serv06, serv07, serv08), slides
// "Prethreading" through "Comparing Multi Process/Multi Thread Designs". The same byte-count protocol, the
// same command line and the same load client as lab 04 (../04_prefork/protocol.hpp, options.hpp,
// client.cpp), so the thread models line up against the process models of 04 in the lecture's table.
// On Ctrl-C every thread is stopped and joined, then the server prints how many connections each thread
// served and its CPU time (every thread included).
//
// Watch for: `thread` creates a thread per connection yet costs far less CPU than 04's fork per client;
// `accept` and `main` spread the clients over the pool; `main` never overruns its array.
//
// Demo (two terminals):
//   ./server 9877 5                    (or --mode thread, --mode main)
//   ./client localhost 9877 5 500 4000
//   then Ctrl-C the server.
// Model files: thread_per_client.cpp, prethread_accept.cpp, main_accept.cpp.
#include "05_prethread/models.hpp"

#include "04_prefork/options.hpp"
#include "netutil/cli.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

namespace prethread {

std::string model_description(Model model) {
    switch (model) {
        case Model::Thread: return "one thread per client";
        case Model::Accept: return "prethreaded, each thread calls accept() under a mutex";
        case Model::Main: return "prethreaded, the main thread accepts into a shared array";
    }
    return "?";
}

}  // namespace prethread

prethread::Settings parse_settings(int argc, char** argv);

int main(int argc, char** argv) {
    using prethread::Model;
    const prethread::Settings settings = parse_settings(argc, argv);
    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        // Installed before any thread starts: the handler only writes a byte into `stop`. SIGHUP (the
        // terminal was closed) stops the server like SIGTERM, unless it was started with SIGHUP ignored
        // (`nohup ./server ...`), which netutil respects.
        const netutil::StopPipe stop;
        netutil::stop_on_signals(stop, {SIGINT, SIGTERM, SIGHUP});
        prethread::Server server{netutil::tcp_listen(settings.bind_address, static_cast<uint16_t>(settings.port)), stop,
                                 settings};
        netutil::set_nonblocking(server.listener.get());  // threads poll it with the stop pipe, then accept
        netutil::print_listening(server.listener.get());
        netutil::print_line(
            "mode " + prethread::model_name(settings.model) + ": " + prethread::model_description(settings.model) +
            (settings.model != Model::Thread ? ", " + netutil::count(settings.nthreads, "thread") : std::string()));
        switch (settings.model) {
            case Model::Thread: prethread::run_thread_per_client(server); break;
            case Model::Accept: prethread::run_prethreaded_accept(server); break;
            case Model::Main: prethread::run_main_thread_accept(server); break;
        }
        return 0;
    });
}

// The command line: the options shared with lab 04 (../04_prefork/options.hpp), then --array-size. A usage
// error exits 2 with one line; the limits are explained in the README.
// The words of --help that differ from lab 04's: what the server is made of, its workers, the mode with a
// worker per client, the modes, what a stop does.
const byte_count::OptionWords kOptionWords{
    "threads", "threads", "thread", "thread (a thread per client), or a pool: accept, main",
    "threads finish their request and are joined,\nthen connections per thread and CPU time printed"};

prethread::Settings parse_settings(int argc, char** argv) {
    CLI::App app;
    prethread::Settings settings;
    byte_count::add_server_options(app, settings, settings.nthreads, settings.model, prethread::kModels, kOptionWords);
    app.add_option("--array-size", settings.array_size, "main mode: slots of the shared descriptor array (MAXNCLI)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 100000));
    netutil::parse_or_exit(app, argc, argv);
    return settings;
}
