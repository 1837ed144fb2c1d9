// netutil/io.hpp: reads and writes that finish the job: short counts, EINTR and EOF are handled here once.
//
// All functions are for blocking descriptors (a receive timeout set with set_receive_timeout shows up as
// ETIMEDOUT). Failures throw std::system_error; EOF is a result, not an error.
#pragma once

#include "netutil/fd.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace netutil {

// One read(), retried on EINTR. Returns the byte count, 0 at EOF.
size_t read_some(int fd, void* buffer, size_t size);

// Writes every byte, looping over short writes and EINTR. On a socket it uses send(MSG_NOSIGNAL), so a peer
// that vanished is an EPIPE exception for this connection, never a SIGPIPE that kills the process.
void write_all(int fd, const void* data, size_t size);
void write_all(int fd, std::string_view text);

enum class Wait { Ready, Stopped, TimedOut };

// Waits until `fd` is readable (data, EOF or an error to collect), or `stop_fd` is readable (-1: none), or
// `timeout_ms` passes (-1: never). This is how a thread blocked on a socket can still be told to stop.
Wait wait_readable(int fd, int stop_fd = -1, int timeout_ms = -1);

// Reads newline-terminated lines of at most `max_line` bytes from a descriptor, through its own buffer.
// Owns: the buffer (not the descriptor). One thread at a time.
class LineReader {
public:
    enum class Status {
        Line,        // `line` holds the next line, without "\n" (and without a "\r" before it)
        Eof,         // the peer closed the connection between lines
        EofMidLine,  // the peer closed in the middle of a line; `line` holds the part that came
        TooLong,     // more than max_line bytes came without a newline; the rest of the stream is unread
        Stopped,     // stop_fd became readable while waiting
        TimedOut,    // nothing came for timeout_ms
    };

    explicit LineReader(int fd, size_t max_line = 4096, int stop_fd = -1, int timeout_ms = -1)
        : fd_(fd), max_line_(max_line), stop_fd_(stop_fd), timeout_ms_(timeout_ms) {}

    Status read_line(std::string& line);

    // Bytes received after the last line returned, not yet consumed.
    std::string_view buffered() const { return buffer_; }

private:
    bool not_a_socket_ = false;  // a pipe or a file: no recv()
    int fd_;
    size_t max_line_;
    int stop_fd_;
    int timeout_ms_;
    std::string buffer_;
};

// A thread that takes one client at a time from a shared listening socket, and must still stop when told
// (Ctrl-C, through a StopPipe): its accept and its receive.

struct SockAddr;

// Waits for a client on the non-blocking `listen_fd` and accepts it, filling `peer`; an empty UniqueFd once
// `stop_fd` is readable. Several threads may wait on one listening socket: each wakes for a new connection,
// and those that lose the race to accept it find nothing (EAGAIN) and wait again.
UniqueFd accept_unless_stopped(int listen_fd, int stop_fd, SockAddr* peer);

// One message from a client: the bytes up to the first newline (without it, or a "\r" before it), or up to
// EOF.
struct Message {
    enum class Status {
        Complete,  // a newline came, or the client closed its side
        CutOff,    // more than max_bytes came without a newline: `text` holds the first max_bytes, the rest is
                   // unread
        Stopped,   // stop_fd became readable and nothing ended the message within the grace period: `text`
                   // holds the part that came
    };
    Status status;
    std::string text;
};

// Receives one message with read()s of at most `chunk` bytes (the slides' recv(80)). Once `stop_fd` is
// readable, it still takes what arrives within `grace` (0: only what has already arrived), then gives up.
Message receive_message(int fd, int stop_fd, std::chrono::milliseconds grace, size_t chunk, size_t max_bytes);

}  // namespace netutil
