// 05_prethread/server.cpp: the server design alternatives with threads: one thread per client, a pool of
// threads each calling accept() under a mutex, and a pool fed by the main thread through a shared array.
//
// Mirrors: seeds/04_lecture_network_programming_server_design.txt, "Prethreading" through "Comparing
// Multi Process/Multi Thread Designs" (UNP ch. 30: serv06, serv07, serv08). The same byte-count protocol
// and the same load client as lab 04 (../04_prefork/protocol.hpp, ../04_prefork/client.cpp), so the
// thread models line up against the process models of 04 in the lecture's table.
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

#include "netutil/cli.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"
#include "netutil/text.hpp"

#include <map>

namespace prethread {

std::string model_name(Model model) {
    switch (model) {
        case Model::Thread: return "thread";
        case Model::Accept: return "accept";
        case Model::Main: return "main";
    }
    return "?";
}

std::string model_description(Model model) {
    switch (model) {
        case Model::Thread: return "one thread per client";
        case Model::Accept: return "prethreaded, each thread calls accept() under a mutex";
        case Model::Main: return "prethreaded, the main thread accepts into a shared array";
    }
    return "?";
}

}  // namespace prethread

int main(int argc, char** argv) {
    using prethread::Model;
    CLI::App app{
        "Server design alternatives with threads (UNP ch. 30): every model serves the byte-count\n"
        "protocol (a client writes a count from 1 to 1048576 and a newline, the server writes that many\n"
        "bytes; several requests per connection). Anything else (a line over 64 bytes, 0, not a number)\n"
        "gets one `error: ...` line and the connection is closed. Ctrl-C, SIGTERM or SIGHUP: threads\n"
        "finish the request in hand and are joined, then connections per thread and CPU time printed,\n"
        "exit 0."};
    int port = 9877;
    std::string bind_address = netutil::kAnyAddress;
    prethread::Settings settings;
    const std::map<std::string, Model> models = {
        {"thread", Model::Thread}, {"accept", Model::Accept}, {"main", Model::Main}};
    app.add_option("PORT", port, "port to listen on (0: any free port)")
        ->capture_default_str()
        ->check(netutil::kPortRange);
    app.add_option("NTHREADS", settings.nthreads, "threads in the pool (accept, main; thread ignores it)")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 1000));
    std::string model = "accept";
    app.add_option("--mode,--model", model,
                   "thread: a thread per client; accept: prethreaded, each thread calls accept under a mutex; "
                   "main: prethreaded, the main thread accepts into a shared array")
        ->transform(netutil::one_of({"thread", "accept", "main"}))
        ->capture_default_str();
    app.add_option("--idle-timeout", settings.idle_timeout_s,
                   "seconds a connection may go without completing a request, or a client without reading its "
                   "reply, before it is closed (0: never, as in the book, so silent clients can starve a pool)")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 86400));
    app.add_option("--max-clients", settings.max_clients,
                   "thread model: threads serving at once; above it the server says so once and new clients wait "
                   "in the listen backlog")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 100000));
    app.add_option("--array-size", settings.array_size,
                   "main model: slots of the shared descriptor array (the slide's MAXNCLI); when it is full the "
                   "main thread waits (and says so once) and new clients wait in the listen backlog")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 100000));
    app.add_option("--bind", bind_address,
                   "address to listen on (:: is every address, IPv6 and IPv4; 0.0.0.0 is IPv4 only)")
        ->capture_default_str();
    netutil::parse_or_exit(app, argc, argv);
    settings.model = models.at(model);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        // Installed before any thread starts: the handler only writes a byte into `stop`. SIGHUP (the
        // terminal was closed) stops the server like SIGTERM, unless it was started with SIGHUP ignored
        // (`nohup ./server ...`), which netutil respects.
        const netutil::StopPipe stop;
        netutil::stop_on_signals(stop, {SIGINT, SIGTERM, SIGHUP});
        prethread::Server server{netutil::tcp_listen(bind_address, static_cast<uint16_t>(port)), stop, settings};
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
