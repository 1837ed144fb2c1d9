// 07_epoll/models.hpp: what every mode shares: the table of connections, each with its output
// buffer, and the echo itself (read what came, write it back, keep what the socket would not take).
//
// Owns: the listening socket and every client socket (closed here, never by a loop). One thread: the
// event loop of the mode, which only decides WHEN to call these functions (select.cpp, poll.cpp, epoll.cpp);
// the completion-based loop (uring.cpp) reads and writes through its ring and uses the bookkeeping here.
#pragma once

#include "07_epoll/options.hpp"
#include "netutil/fd.hpp"
#include "netutil/socket.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace echo {

enum class Mode { Select, Poll, Epoll, EpollEt, Uring };
// --mode's names, in --help's order.
inline const std::vector<std::pair<std::string, Mode>> kModeNames{{"select", Mode::Select},
                                                                  {"poll", Mode::Poll},
                                                                  {"epoll", Mode::Epoll},
                                                                  {"epoll-et", Mode::EpollEt},
                                                                  {"uring", Mode::Uring}};
std::string mode_name(Mode mode);

// The command line: PORT, --bind, --quiet, --grace (options.hpp), and --mode.
struct Settings : ServerOptions {
    Mode mode = Mode::Epoll;
};

struct Connection {
    netutil::UniqueFd fd;
    std::string peer;          // "127.0.0.1:49153", for the log
    std::string output;        // bytes read and not yet written back (the per-connection output buffer)
    size_t output_sent = 0;    // how much of `output` has gone
    bool peer_closed = false;  // EOF seen: close once the output is flushed
    uint32_t registered = 0;   // what the loop currently watches for it (epoll: events given to epoll_ctl)
    // The completion-based loop (uring.cpp): its operations in flight. While a send is in flight the kernel
    // reads `output`, so bytes received meanwhile wait in `queued`.
    uint32_t serial = 0;     // numbers the connection: a late completion for an older one on this fd is ignored
    bool receiving = false;  // a receive is submitted and has not ended
    bool sending = false;    // a send of `output` is in flight
    std::string queued;

    bool has_output() const { return output_sent < output.size(); }
    // Level-triggered loops watch for input only while nothing waits to go out: a client that sends but
    // does not read is not buffered without bound, it is made to wait (TCP flow control does the rest).
    bool wants_read() const { return !peer_closed && !has_output(); }
    bool wants_write() const { return has_output(); }
};

enum class Progress { Open, Closed };

class EchoServer {
public:
    // `fd_limit`: descriptors at or above it are refused (FD_SETSIZE for select, none for the others).
    EchoServer(netutil::UniqueFd listener, const Settings& settings, int fd_limit);

    const Settings& settings() const { return settings_; }
    int listen_fd() const { return listener_.get(); }

    // Accepts waiting clients: at most `limit` of them, or all of them (until EAGAIN) when `limit` is 0.
    // Returns the descriptors of the new connections. Out of descriptors (EMFILE), it stops accepting:
    // the clients wait in the listen backlog until a connection closes (or a second has passed), so the
    // loop never spins on a listening socket it cannot empty.
    std::vector<int> accept_clients(size_t limit);
    // False while accepting is paused by EMFILE: the loop stops watching the listening socket.
    bool accepting() const { return listener_ && !paused_; }
    // True once when a pause should end (a descriptor was freed, or the retry time came): accept now.
    bool resume_due();
    // How long the loop may block (-1: forever): the EMFILE retry or the end of the grace period.
    int wait_timeout_ms() const;

    // Input is ready: read and echo. `drain`: go on until EAGAIN (edge-triggered), else read once.
    Progress on_readable(int fd, bool drain);
    // Output is possible: write what is kept. `drain`: then read on until EAGAIN (edge-triggered).
    Progress on_writable(int fd, bool drain);
    Connection* find(int fd) { return fd >= 0 && size_t(fd) < table_.size() ? table_[fd].get() : nullptr; }

    // Ctrl-C: close the listening socket; the loop then serves the clients still connected until they
    // leave or the grace period ends.
    void begin_stop();
    bool stopping() const { return stopping_; }
    bool done() const;
    void close_all();
    size_t open_count() const { return open_; }
    void print_summary(int signo) const;

    // For the completion-based loop (uring.cpp), where the kernel accepts, reads and writes:
    // the table entry for a socket the kernel accepted (the descriptor, or -1 if refused);
    int adopt(netutil::UniqueFd fd, const netutil::SockAddr& peer);
    // accept failed with EMFILE or ENFILE: pause as accept_clients() does;
    void pause_accepting(int error);
    // a read of `bytes` came in (the summary's counts); its echo's first send took `written` (the log line);
    void count_read(size_t bytes);
    void log_echo(int fd, size_t bytes, size_t written) const;
    Progress close(int fd, const std::string& why);

private:
    Progress echo_input(Connection& connection, bool drain);
    Progress flush(Connection& connection);
    Progress close_connection(Connection& connection, const std::string& why);

    netutil::UniqueFd listener_;
    Settings settings_;
    int fd_limit_;
    std::vector<std::unique_ptr<Connection>> table_;  // indexed by descriptor
    size_t open_ = 0;
    bool paused_ = false;
    bool freed_since_pause_ = false;
    bool short_of_descriptors_ = false;  // said so in the log; say so again once accepting works
    std::chrono::steady_clock::time_point retry_at_{};
    bool stopping_ = false;
    std::chrono::steady_clock::time_point stop_deadline_{};
    // Statistics for the summary.
    uint64_t accepted_ = 0, refused_ = 0, pauses_ = 0, reads_ = 0, bytes_ = 0, errors_ = 0;
    size_t peak_open_ = 0;
};

// The loops, one per mode; each returns when the server has stopped.
void run_select(EchoServer& server, int stop_fd);
void run_poll(EchoServer& server, int stop_fd);
void run_epoll(EchoServer& server, int stop_fd, bool edge_triggered);
// Throws netutil::UringUnavailable (with the reason) where the kernel refuses io_uring.
void run_uring(EchoServer& server, int stop_fd);

}  // namespace echo
