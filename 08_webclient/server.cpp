// 08_webclient/server.cpp: the concurrent HTTP/1.1 file server of the lab handout.
//
// Mirrors: the lab handout "Concurrent HTTP server" (all of it): the CLI
// `server [-h] [-p PORT] [-v] [-d] [-f FOLDER] [-c {thread,thread-pool,process,process-pool,async}]`,
// default port 8085, default concurrency `thread`, Ctrl-C that lets connected clients finish and joins every
// thread. Plus `-c iterative`, the one-client-at-a-time baseline the handout benchmarks against, and `-c uring`,
// the lecture's Proactor on io_uring.
//
// The modes, each in its own file: threads.cpp (iterative, thread, thread-pool), processes.cpp (process,
// process-pool), async.cpp (async, `--workers N` epoll loops), uring.cpp (uring, `--workers N` io_uring
// loops). What they share is in models.cpp (the answer to a request, the blocking connection handler) and
// http.cpp (the parser and the path resolver).
//
// Watch for: with -d every request takes --delay-ms; ten clients at once finish together in every mode but
// iterative, where they finish one after another. `-v` prefixes each log line with the connection and the
// worker (thread, process, event loop) that served it.
//
// Demo (three terminals):
//   ./server -f www -v -d                       (serves the lab's site, www/, on port 8085, 1 s per request)
//   curl -v http://localhost:8085/index.html    (or open http://localhost:8085/ in a browser)
//   ./client 3 localhost index.html img/1.png img/2.png img/3.png
// See also: client.cpp (the lecture's threaded web client).
#include "models.hpp"

#include "netutil/cli.hpp"
#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/text.hpp"

#include <csignal>
#include <fcntl.h>

namespace {

constexpr uint16_t kDefaultPort = 8085;

web::Settings parse_settings(int argc, char** argv);
std::string describe_concurrency(const web::Settings& settings);
void print_summary(const web::Settings& settings);

}  // namespace

int main(int argc, char** argv) {
    web::Settings settings = parse_settings(argc, argv);

    return netutil::run_main([&] {
        netutil::ignore_sigpipe();
        settings.root.reset(::open(settings.folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!settings.root) netutil::throw_errno("folder " + settings.folder);
        web::shared_stats();  // the shared counters exist before any fork

        using web::Concurrency;
        const bool loops = settings.concurrency == Concurrency::Async || settings.concurrency == Concurrency::Uring;
        if (settings.concurrency == Concurrency::Uring) web::check_uring();  // before `listening on`: exit 1 here
        const bool reuse_port = loops && settings.workers > 1;
        netutil::UniqueFd listener =
            netutil::tcp_listen(settings.bind_address, static_cast<uint16_t>(settings.port), reuse_port);
        netutil::set_nonblocking(listener.get());
        netutil::print_listening(listener.get());
        const uint16_t bound_port = netutil::local_address(listener.get()).port();
        netutil::print_line(
            "serving " + settings.folder + " (concurrency: " + describe_concurrency(settings) + ")" +
            (settings.delay_ms > 0 ? ", " + std::to_string(settings.delay_ms) + " ms delay per request" : ""));

        // Ctrl-C, SIGTERM or SIGHUP (the terminal closed) writes a byte into `stop` (async-signal-safe), which
        // every thread and every child process watches: all three are the same graceful stop.
        const netutil::StopPipe stop;
        netutil::stop_on_signals(stop, {SIGINT, SIGTERM, SIGHUP});  // an ignored SIGHUP (nohup) stays ignored

        switch (settings.concurrency) {
            case Concurrency::Iterative: web::run_iterative(listener.get(), settings, stop); break;
            case Concurrency::Thread: web::run_thread_per_connection(listener.get(), settings, stop); break;
            case Concurrency::ThreadPool: web::run_thread_pool(listener.get(), settings, stop); break;
            case Concurrency::Process: web::run_process_per_connection(listener.get(), settings, stop); break;
            case Concurrency::ProcessPool: web::run_process_pool(listener.get(), settings, stop); break;
            case Concurrency::Async: web::run_async(std::move(listener), bound_port, settings, stop); break;
            case Concurrency::Uring: web::run_uring(std::move(listener), bound_port, settings, stop); break;
        }

        const int signo = netutil::caught_signal();
        netutil::print_line("server stopped" + (signo != 0 ? " by " + netutil::signal_name(signo) : std::string()) +
                            ", every thread joined and every child reaped");
        print_summary(settings);
        return 0;
    });
}

namespace {

// The command line of the handout, plus the kit's own options. Usage errors exit 2 here.
web::Settings parse_settings(int argc, char** argv) {
    CLI::App app{
        "The concurrent HTTP/1.1 file server of the lab handout: GET and HEAD of the files under FOLDER\n"
        "(never outside it), keep-alive, pipelining. Ctrl-C (SIGINT), SIGTERM and SIGHUP stop it the same\n"
        "way: it stops accepting, lets every request already received finish (within --grace), joins\n"
        "every thread, reaps every child, prints its summary and exits 0."};
    app.footer(
        "Limits (the README says more): a request line over 8 KiB gets 414, a header section over 16 KiB\n"
        "431, a body over 64 KiB 413; the thread-pool queue holds --threads connections; out of\n"
        "descriptors, a client gets 503.\n"
        "Example: ./server -f www -c thread-pool --threads 4 -v -d   then   ./client 3 localhost index.html img/1.png");
    web::Settings settings;
    settings.port = kDefaultPort;
    bool delay = false;
    auto* port_option = app.add_option("-p,--port", settings.port, "port to bind to (0: any free port)")
                            ->capture_default_str()
                            ->check(netutil::kPortRange);
    auto* port_positional =
        app.add_option("PORT", settings.port, "the port, as the kit's other servers take it (same as -p; not both)")
            ->check(netutil::kPortRange);
    app.add_flag("-v,--verbose", settings.verbose, "log each request, prefixed with its connection and worker");
    app.add_flag("-d,--delay", delay,
                 "wait --delay-ms (default 1000) before answering each request,\nto show concurrency");
    app.add_option("-f,--folder", settings.folder, "folder to serve files from (nothing outside it is ever served)")
        ->capture_default_str();
    app.add_option("-c,--concurrency", settings.concurrency,
                   "concurrency: iterative (one client at a time), thread (one per\n"
                   "connection), thread-pool (--threads), process (one per connection),\n"
                   "process-pool (--processes), async (epoll event loops, --workers),\n"
                   "uring (io_uring event loops, --workers)")
        ->transform(netutil::one_of(web::kConcurrencyNames).description(""))
        ->type_name("TEXT:{iterative,thread,thread-pool,process,process-pool,async,uring}")
        ->default_str("thread");
    auto* delay_ms = app.add_option("--delay-ms", settings.delay_ms,
                                    "length of -d's delay in milliseconds (giving it turns the delay\n"
                                    "on) [default: 1000]")
                         ->check(netutil::whole_number(0, 600000));
    app.add_option("--threads", settings.threads,
                   "thread-pool: number of threads, and the size of the queue of\n"
                   "accepted connections waiting for them")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 256));
    app.add_option("--processes", settings.processes, "process-pool: number of worker processes")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 256));
    app.add_option("--workers", settings.workers,
                   "async and uring: number of event loops, each with its own\nSO_REUSEPORT listener")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 64));
    app.add_option("--idle-timeout", settings.idle_timeout_s,
                   "seconds a connection may take to complete a request (from accept,\n"
                   "restarted by each request and by each part of a response the client\n"
                   "reads) before a 408 closes it; 0: none")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 86400));
    app.add_option("--grace", settings.grace_s,
                   "seconds Ctrl-C (or SIGTERM, SIGHUP) waits for requests in progress\n"
                   "before closing what is left")
        ->capture_default_str()
        ->check(netutil::whole_number(0, 3600));
    app.add_option("--max-clients", settings.max_clients,
                   "thread and process modes: connections served at once (a thread or a\n"
                   "child each); more wait in the backlog, and the server says so once")
        ->capture_default_str()
        ->check(netutil::whole_number(1, 100000));
    app.add_option("--bind", settings.bind_address,
                   "address to listen on (:: is every address, IPv6 and IPv4;\n"
                   "0.0.0.0 is IPv4 only)")
        ->capture_default_str();
    netutil::parse_or_exit(app, argc, argv);
    // `./server 21200 -p 21201` would otherwise take the last one given and say nothing.
    if (port_option->count() > 0 && port_positional->count() > 0)
        netutil::usage_error("two ports given, PORT " + port_positional->as<std::string>() + " and -p " +
                             port_option->as<std::string>() + ": give one");
    if (delay_ms->count() == 0) settings.delay_ms = delay ? 1000 : 0;
    return settings;
}

// "thread-pool of 8 threads", for the line after `listening on`.
std::string describe_concurrency(const web::Settings& settings) {
    using web::Concurrency;
    std::string how = web::concurrency_name(settings.concurrency);
    if (settings.concurrency == Concurrency::ThreadPool) how += " of " + netutil::count(settings.threads, "thread");
    if (settings.concurrency == Concurrency::ProcessPool)
        how += " of " + netutil::count(settings.processes, "process", "processes");
    if (settings.concurrency == Concurrency::Async || settings.concurrency == Concurrency::Uring)
        how += " with " + std::to_string(settings.workers) + " event loop(s)";
    return how;
}

void print_summary(const web::Settings& settings) {
    using web::Concurrency;
    const web::Stats& stats = web::shared_stats();
    int workers = 0;
    if (settings.concurrency == Concurrency::ThreadPool) workers = settings.threads;
    if (settings.concurrency == Concurrency::ProcessPool) workers = settings.processes;
    const bool loops = settings.concurrency == Concurrency::Async || settings.concurrency == Concurrency::Uring;
    if (loops && settings.workers > 1) workers = settings.workers;
    const char* kind = loops ? "loop" : settings.concurrency == Concurrency::ThreadPool ? "pool thread" : "worker";
    for (int i = 0; i < workers; ++i)
        netutil::print_line(std::string(kind) + " " + std::to_string(i) + " served " +
                            netutil::count(stats.worker_connections[i].load(), "connection") + ", " +
                            netutil::count(stats.worker_requests[i].load(), "request"));
    netutil::print_line("served " + netutil::count(stats.connections.load(), "connection") + ", " +
                        netutil::count(stats.requests.load(), "request") + " in all");
}

}  // namespace
