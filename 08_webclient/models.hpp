// 08_webclient/models.hpp: what every concurrency mode of the file server shares: its settings, the counters
// of the summary, the answer to a request, and the blocking connection handler that the iterative, thread,
// thread-pool, process and process-pool modes all run (async and uring have their own, in async.cpp and
// uring.cpp, with what those two share in event_loop.hpp).
#pragma once

#include "http.hpp"
#include "netutil/fd.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace web {

using Clock = std::chrono::steady_clock;

// -c: how connections are served; each has its run_ function below.
enum class Concurrency { Iterative, Thread, ThreadPool, Process, ProcessPool, Async, Uring };
// -c's names, in --help's order.
inline const std::vector<std::pair<std::string, Concurrency>> kConcurrencyNames{
    {"iterative", Concurrency::Iterative},
    {"thread", Concurrency::Thread},
    {"thread-pool", Concurrency::ThreadPool},
    {"process", Concurrency::Process},
    {"process-pool", Concurrency::ProcessPool},
    {"async", Concurrency::Async},
    {"uring", Concurrency::Uring}};
std::string concurrency_name(Concurrency concurrency);

struct Settings {
    int port = 0;
    std::string folder = ".";
    netutil::UniqueFd root{};  // the served folder, open: every file is opened beneath it
    Concurrency concurrency = Concurrency::Thread;
    bool verbose = false;
    int delay_ms = 0;         // -d: sleep this long before answering each request (0: no delay)
    int idle_timeout_s = 10;  // 0: none
    int grace_s = 5;
    int threads = 8;        // thread-pool size
    int processes = 4;      // process-pool size
    int workers = 1;        // async and uring event loops
    int max_clients = 256;  // thread and process modes: connections served at once
    std::string bind_address = netutil::kAnyAddress;
};

// The counters of the summary, per worker and in all. Kept in memory shared with forked children
// (mmap MAP_SHARED), so the process modes count the same way the thread modes do; lock-free atomics
// work across processes.
struct Stats {
    static constexpr int kMaxWorkers = 256;
    std::atomic<uint64_t> connections{0};  // also hands out connection numbers for the logs
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> worker_connections[kMaxWorkers]{};
    std::atomic<uint64_t> worker_requests[kMaxWorkers]{};
};
Stats& shared_stats();  // created on first use, before any fork

// Who handles a connection, for the -v log and the summary: "thread 3", "worker 1 (pid 4242)".
struct Worker {
    int index = 0;  // slot in Stats (pool member, event loop); 0 in the modes without a fixed pool
    std::string name;
};

// One connection as a worker knows it.
struct ConnectionInfo {
    uint64_t id = 0;
    std::string peer;
};

// The answer to one request: the head, and (GET of a file) the file to send after it.
struct Response {
    int status = 0;
    std::string head;          // status line and headers, or a whole small error response
    netutil::UniqueFd file{};  // the body, sent with sendfile (empty: no body beyond `head`)
    off_t offset = 0;
    size_t remaining = 0;      // bytes of `file` still to send
    bool close_after = false;  // close the connection once this response is out
};

// The response to a parsed request (a complete one, or an error). Logs it when -v is on.
Response respond(const http::ParseResult& parsed, const Settings& settings, const Worker& worker,
                 const ConnectionInfo& connection);
// The 408 for a connection that did not complete a request within the idle timeout.
Response timeout_response();

void log_line(const Settings& settings, const Worker& worker, const ConnectionInfo& connection,
              const std::string& what);

// Accepts one connection. Out of descriptors (EMFILE), it still takes the client off the backlog with a
// spare descriptor kept for the purpose, answers 503 and closes it, so the server neither spins nor dies.
// Returns an empty descriptor when there was nothing to accept or the client was refused.
class Acceptor {
public:
    Acceptor();
    netutil::UniqueFd accept(int listen_fd, netutil::SockAddr* peer);

private:
    netutil::UniqueFd spare_;
};

// Serves one connection in the blocking style: read requests, answer each (pipelined ones in order), until
// the client closes, asks to close, errs, or stays idle past the timeout (408). Once `stop_fd` is readable
// (Ctrl-C), it answers what the client has already sent, waits at most the grace period for a request
// already begun, and returns. Owns `client` (closes it).
void serve_connection(netutil::UniqueFd client, const ConnectionInfo& connection, const Worker& worker,
                      const Settings& settings, int stop_fd);

// The mode's main loops (threads.cpp, processes.cpp, async.cpp, uring.cpp). Each returns once stopped, every thread
// joined and every child reaped.
void run_iterative(int listen_fd, const Settings& settings, const netutil::StopPipe& stop);
void run_thread_per_connection(int listen_fd, const Settings& settings, const netutil::StopPipe& stop);
void run_thread_pool(int listen_fd, const Settings& settings, const netutil::StopPipe& stop);
void run_process_per_connection(int listen_fd, const Settings& settings, const netutil::StopPipe& stop);
void run_process_pool(int listen_fd, const Settings& settings, const netutil::StopPipe& stop);
void run_async(netutil::UniqueFd listener, uint16_t port, const Settings& settings, const netutil::StopPipe& stop);
void run_uring(netutil::UniqueFd listener, uint16_t port, const Settings& settings, const netutil::StopPipe& stop);
// Throws netutil::UringUnavailable, with the reason, where io_uring (or an operation uring.cpp uses) is not there.
void check_uring();

}  // namespace web
