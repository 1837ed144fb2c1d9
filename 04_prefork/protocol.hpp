// 04_prefork/protocol.hpp: the byte-count protocol every server model of labs 04 and 05 speaks, and the
// few serving helpers (accept, log, summary) both labs' servers share.
//
// The client writes one line holding a decimal byte count from 1 to 1 MiB; the server writes exactly that
// many bytes back. The client may ask again on the same connection or close. Anything else (0, a negative
// or too big count, not a number, a line over 64 bytes, EOF in the middle of a line) gets one line starting
// `error:` and the connection is closed; the server and its other clients carry on.
//
// This is UNP's web_child(): the one piece of work every model does, so the models compare fairly.
// See also: client.cpp (the load client that drives it), server.cpp, ../05_prethread/server.cpp.
#pragma once

#include "netutil/fd.hpp"
#include "netutil/socket.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace byte_count {

inline constexpr int kDefaultPort = 9877;   // of the servers of labs 04 and 05, and their client
inline constexpr long kMaxBytes = 1048576;  // the largest reply a client may ask for (1 MiB)
inline constexpr size_t kMaxLine = 64;      // a request line longer than this is refused

// Parses a request line: the count, or std::nullopt with `why` set to the error text (without "error: ").
std::optional<long> parse_request(std::string_view line, std::string& why);

struct ServeOptions {
    int stop_fd = -1;          // readable once the server stops: finish what was asked, then close
    int idle_timeout_ms = -1;  // a connection that completes no request for this long is closed (-1: never)
};

enum class Ending {
    ClientClosed,  // the client closed between requests: the normal end
    Stopped,       // the server is stopping and nothing more was asked
    IdleTimeout,   // no complete request within the idle timeout
    BadRequest,    // an `error:` line was sent and the connection closed
    Vanished,      // the client went away in the middle of a reply (EPIPE, ECONNRESET, send timeout)
};

struct Served {
    long requests = 0;    // replies written in full
    long long bytes = 0;  // bytes of those replies
    Ending ending = Ending::ClientClosed;
    std::string detail;  // what went wrong, for the log (empty for ClientClosed and Stopped)
};

// Serves one connection until the client closes, the server stops, the idle timeout passes or a bad
// request comes. Never throws for the client's misbehaviour: per-client failures end this connection only.
Served serve_connection(int fd, const ServeOptions& options);

// The serving side both labs' servers share --------------------------------------------------------------

// serve_connection, then one log line `WHO: PEER: what happened` when it ended unusually (a bad request,
// the idle timeout, a client that vanished mid-reply). Returns true if it ended because the server stops.
// PEER is the client's address if the caller has it from accept(); else it is asked for (getpeername).
bool serve_and_log(int fd, const ServeOptions& options, const std::string& who,
                   const netutil::SockAddr* peer = nullptr);

// accept() that survives running out of descriptors: EMFILE/ENFILE is logged once per shortage (failures
// less than a second apart, in any thread, are one shortage) and waited out (100 ms at a time), never spun
// on and never fatal. An empty result means nothing was accepted: try again. `peer`, when given, receives
// the client's address.
netutil::UniqueFd accept_or_wait(int listen_fd, const std::string& who, netutil::SockAddr* peer = nullptr);

// The summary a server prints once when it stops:
//   server stopped by SIGINT
//   child 0: 170 connections          (one line per worker, if any)
//   WORKERS_LINE                      (if not empty, e.g. "children forked: 2500, one connection each")
//   connections: 2500 in all
//   CPU time: user 0.010 s, system 0.120 s, total 0.130 s (...)
struct WorkerCount {
    std::string name;
    long connections;
};
void print_summary(int stop_signal, const std::vector<WorkerCount>& workers, const std::string& workers_line,
                   long total, const std::string& cpu_note);
// The same for a pool whose workers are numbered from 0 (`child 0`, or `thread 0` for `kind` "thread"):
// `connections[i]` is worker i's count, and the total is their sum.
void print_pool_summary(int stop_signal, const std::string& kind, const std::vector<long>& connections,
                        const std::string& workers_line, const std::string& cpu_note);

}  // namespace byte_count
