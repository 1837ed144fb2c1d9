// 08_webclient/uring.cpp: `-c uring`, the file server on io_uring: the Proactor of the lecture "Network
// Programming" (slide "Reactor and Proactor"), where async.cpp is its Reactor. `--workers N` runs N loops,
// each in its own thread with its own ring and its own SO_REUSEPORT listener, as `-c async` does.
//
// Reactor against Proactor. async.cpp is a Reactor: epoll says a descriptor is READY, and the loop then
// makes the call itself (recv, send, sendfile, accept4), one system call each, most of which could have
// failed with EAGAIN. Here the loop hands the kernel the whole operation instead (accept, receive into a
// buffer, read the file, send these bytes), and the kernel says when it has COMPLETED, with its result:
// the loop never asks "is it ready?" and never retries. Operations are queued in a submission ring and their
// results appear in a completion ring, both shared memory between the program and the kernel, so one
// io_uring_enter() per loop turn submits every new operation and waits for results: the system calls per
// request fall from about six (async) to the open and fstat of the file (see the README); its close is an
// operation of the ring too.
//
// Watch for:
// - Multishot accept: one accept operation keeps producing a completion per new client (Linux 5.19).
// - Provided buffers: a receive names no buffer; the kernel picks one from a ring of buffers the loop
//   registered, only when bytes arrive, so ten thousand idle connections hold no receive buffer at all.
//   Where the kernel has neither, plain accept (re-armed after each) and a buffer per connection stand in.
// - A buffer handed to the kernel belongs to it until the completion says so: a connection is freed only
//   once none of its operations is in flight (closing it first shuts the socket down, which completes them).
// - Ctrl-C reaches the loop through the ring too: a poll operation on the stop pipe completes.
// - There is no sendfile operation: the file is read into memory (an io_uring read) and sent with the head,
//   in chunks of 64 KiB for a large file.
#include "event_loop.hpp"
#include "models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/uring.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace web {

namespace {

constexpr auto kDrain = std::chrono::seconds(2);  // at the end, waiting for operations in flight
constexpr unsigned kRingEntries = 512;
constexpr unsigned kBuffers = 256;  // provided receive buffers per loop (a power of two)
constexpr size_t kBufferSize = 16 * 1024;
constexpr size_t kChunk = 64 * 1024;  // file bytes read (and sent) per operation
constexpr uint16_t kBufferGroup = 0;

// What a completion is for, in the low bits of its user data (a Connection's address for the last four).
enum Op : uint64_t {
    kAccept = 1,
    kAcceptPoll = 2,
    kStop = 3,
    kIgnore = 4,
    kRecv = 5,
    kSend = 6,
    kSendPoll = 7,
    kRead = 8
};
constexpr uint64_t kOpMask = 15;

// A file is closed through the ring once read. Not in the ThreadSanitizer build: it tracks each descriptor
// number from open to close(), and a close made by the kernel for io_uring escapes it, so the number's reuse
// by another loop's thread would look like a race. There the file is closed with close(), as in async.cpp.
#if defined(__SANITIZE_THREAD__)
constexpr bool kCloseInRing = false;
#else
constexpr bool kCloseInRing = true;
#endif

// Checks that the kernel's io_uring has the operations the server uses; throws UringUnavailable if not.
void require_operations(const netutil::Ring& ring) {
    for (const int op : {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_READ, IORING_OP_CLOSE,
                         IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL})
        if (!ring.supports(op))
            throw netutil::UringUnavailable(
                "io_uring here lacks the accept, recv, send, read or close operation (Linux 5.6 or newer has them)");
}

// The provided buffers: a ring of kBuffers buffers registered with the kernel (Linux 5.19), from which it
// takes one for each receive that completes; the loop gives each back once it has copied the bytes out.
class BufferRing {
public:
    // False where the kernel cannot register a buffer ring.
    bool setup(io_uring* ring) {
        void* memory = nullptr;
        const size_t bytes = kBuffers * sizeof(io_uring_buf);
        if (::posix_memalign(&memory, static_cast<size_t>(::sysconf(_SC_PAGESIZE)), bytes) != 0) return false;
        ring_ = static_cast<io_uring_buf_ring*>(memory);
        io_uring_buf_reg registration{};
        registration.ring_addr = reinterpret_cast<uintptr_t>(ring_);
        registration.ring_entries = kBuffers;
        registration.bgid = kBufferGroup;
        if (::io_uring_register_buf_ring(ring, &registration, 0) != 0) {
            std::free(ring_);
            ring_ = nullptr;
            return false;
        }
        data_ = std::make_unique<char[]>(kBuffers * kBufferSize);
        ::io_uring_buf_ring_init(ring_);
        for (unsigned id = 0; id < kBuffers; ++id)
            ::io_uring_buf_ring_add(ring_, buffer(id), kBufferSize, static_cast<uint16_t>(id),
                                    ::io_uring_buf_ring_mask(kBuffers), static_cast<int>(id));
        ::io_uring_buf_ring_advance(ring_, kBuffers);
        return true;
    }
    ~BufferRing() { std::free(ring_); }  // (the ring is unregistered when it is destroyed first)

    char* buffer(unsigned id) { return data_.get() + id * kBufferSize; }
    void give_back(unsigned id) {
        ::io_uring_buf_ring_add(ring_, buffer(id), kBufferSize, static_cast<uint16_t>(id),
                                ::io_uring_buf_ring_mask(kBuffers), 0);
        ::io_uring_buf_ring_advance(ring_, 1);
    }

private:
    io_uring_buf_ring* ring_ = nullptr;
    std::unique_ptr<char[]> data_;
};

// One connection's state: as in async.cpp (HttpConnection, event_loop.hpp), plus the bytes the kernel is
// sending and which of its operations the kernel holds.
struct alignas(16) Connection : HttpConnection {
    bool out_done = false;  // all of `out` is out
    std::string wire;       // the bytes of it the kernel is sending: the head and a chunk of the file
    size_t wire_sent = 0;
    size_t read_at = 0;                                        // where in `wire` the file chunk being read goes
    bool closed = false;                                       // freed once no operation is in flight
    bool receiving = false, sending = false, reading = false;  // the operations in flight
    std::unique_ptr<char[]> own_buffer;                        // without provided buffers: its receive buffer

    bool busy() const { return receiving || sending || reading; }
};

class UringLoop {
public:
    UringLoop(int index, netutil::UniqueFd listener, const Settings& settings, int stop_fd)
        : worker_{index, "loop " + std::to_string(index)},
          listener_(std::move(listener)),
          settings_(settings),
          stop_fd_(stop_fd),
          ring_(kRingEntries, netutil::Ring::OwnThread{}) {
        require_operations(ring_);
        netutil::set_nonblocking(listener_.get());  // (for the Acceptor's accept4)
        // IORING_OP_SOCKET came in the same kernel (5.19) as multishot accept and buffer rings.
        const bool recent = ring_.supports(IORING_OP_SOCKET);
        multishot_accept_ = recent;
        if (recent && buffers_.setup(ring_.get())) provided_buffers_ = true;
    }

    void run() {
        ring_.start();  // from here on, this thread alone submits to the ring
        arm_accept();
        io_uring_sqe* sqe = ring_.next_sqe();
        ::io_uring_prep_poll_add(sqe, stop_fd_, POLLIN);  // Ctrl-C: a byte in the stop pipe
        ::io_uring_sqe_set_data64(sqe, kStop);
        for (;;) {
            wait_and_handle(timers_.wake());
            const auto now = Clock::now();
            timers_.run_due(now, connections_, [this](Connection& c) { advance(c); });
            if (timers_.scan_due(now)) close_idle(now);
            if (stopping_ && (connections_.empty() || now >= grace_deadline_)) break;
        }
        // The grace period is over: whatever is left is closed (its client sees the connection end), and the
        // loop waits for the kernel to give back every buffer it holds before they are freed.
        std::vector<Connection*> left;
        for (const auto& [key, c] : connections_) left.push_back(key);
        for (Connection* c : left) close(*c, nullptr);
        const auto drain_end = Clock::now() + kDrain;
        while ((!connections_.empty() || accepting_) && Clock::now() < drain_end)
            wait_and_handle(Clock::now() + kScanInterval);
    }

private:
    // Submits what is queued, waits for at least one completion (or until `wake`), and handles them all.
    void wait_and_handle(Clock::time_point wake) {
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(wake - Clock::now()).count();
        const long long wait_ns = std::clamp<long long>(left, 0, 1'000'000'000LL);
        __kernel_timespec timeout{wait_ns / 1'000'000'000LL, wait_ns % 1'000'000'000LL};
        io_uring_cqe* cqe = nullptr;
        const int rc = ::io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &timeout, nullptr);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            netutil::throw_error(-rc, "io_uring_submit_and_wait_timeout");
        unsigned head = 0;
        unsigned seen = 0;
        io_uring_for_each_cqe(ring_.get(), head, cqe) {
            ++seen;
            handle(*cqe);
        }
        ::io_uring_cq_advance(ring_.get(), seen);
    }

    void handle(const io_uring_cqe& cqe) {
        const uint64_t data = ::io_uring_cqe_get_data64(&cqe);
        if (data == LIBURING_UDATA_TIMEOUT) return;  // liburing's own timeout, on kernels without EXT_ARG
        switch (data & kOpMask) {
            case kAccept: on_accept(cqe); return;
            case kAcceptPoll:
                accepting_ = false;
                if (stopping_)
                    listener_.reset();
                else
                    arm_accept();
                return;
            case kStop: begin_stop(); return;
            case kIgnore: return;
            default: break;
        }
        Connection& c = *reinterpret_cast<Connection*>(data & ~kOpMask);
        switch (data & kOpMask) {
            case kRecv: on_recv(c, cqe); return;
            case kSend: on_send(c, cqe.res); return;
            case kSendPoll:
                c.sending = false;
                if (c.closed) return free_if_done(c);
                return send_wire(c);
            case kRead: on_read(c, cqe.res); return;
            default: return;
        }
    }

    static void set_data(io_uring_sqe* sqe, Connection& c, Op op) {
        ::io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&c) | op);
    }

    void arm_accept() {
        io_uring_sqe* sqe = ring_.next_sqe();
        if (multishot_accept_)
            ::io_uring_prep_multishot_accept(sqe, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        else
            ::io_uring_prep_accept(sqe, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        ::io_uring_sqe_set_data64(sqe, kAccept);
        accepting_ = true;
    }

    void on_accept(const io_uring_cqe& cqe) {
        if ((cqe.flags & IORING_CQE_F_MORE) == 0) accepting_ = false;  // this accept is over: arm another
        const int res = cqe.res;
        if (stopping_) {
            if (res >= 0) ::close(res);
            if (!accepting_) listener_.reset();
            return;
        }
        if (res >= 0) {
            add_connection(netutil::UniqueFd(res));
        } else if (res == -EINVAL && multishot_accept_) {
            multishot_accept_ = false;  // a kernel before multishot accept: one accept at a time
        } else if (res == -EAGAIN) {
            return wait_for_client();  // a kernel that does not wait on a non-blocking listener
        } else if (res != -ECANCELED) {
            // EMFILE and the rest: the Acceptor of the other modes answers them (503 with its spare descriptor,
            // carry on, or throw), with a plain accept4 on the non-blocking listener. io_uring's accept takes
            // the new descriptor before it looks for a client, so out of descriptors it fails at once even
            // with no client waiting: re-armed now, it would fail again and again (a spinning loop). So the
            // next accept waits until a client is there.
            netutil::SockAddr peer;
            if (netutil::UniqueFd client = acceptor_.accept(listener_.get(), &peer)) add_connection(std::move(client));
            return wait_for_client();
        }
        if (!accepting_) arm_accept();
    }

    // A poll on the listener; an accept follows once a client is waiting.
    void wait_for_client() {
        io_uring_sqe* sqe = ring_.next_sqe();
        ::io_uring_prep_poll_add(sqe, listener_.get(), POLLIN);
        ::io_uring_sqe_set_data64(sqe, kAcceptPoll);
        accepting_ = true;
    }

    void add_connection(netutil::UniqueFd client) {
        const int one = 1;
        ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto owned = std::make_unique<Connection>();
        Connection& c = *owned;
        std::string peer;
        if (settings_.verbose) {  // (the peer's address is for the log alone: one system call fewer without -v)
            netutil::SockAddr address;
            if (::getpeername(client.get(), address.get(), &address.length) == 0) peer = address.to_string();
        }
        c.info = ConnectionInfo{++shared_stats().connections, peer};
        c.deadline = idle_deadline(settings_);
        c.fd = std::move(client);
        shared_stats().worker_connections[worker_.index]++;
        log_line(settings_, worker_, c.info, "connected");
        connections_[&c] = std::move(owned);
        arm_recv(c);
    }

    // Ctrl-C: stop accepting (cancel the accept, then close the listener), then let each connection finish
    // what it has begun.
    void begin_stop() {
        if (stopping_) return;
        stopping_ = true;
        grace_deadline_ = Clock::now() + std::chrono::seconds(settings_.grace_s);
        if (accepting_) {
            io_uring_sqe* sqe = ring_.next_sqe();
            ::io_uring_prep_cancel64(sqe, kAccept, 0);
            ::io_uring_sqe_set_data64(sqe, kIgnore);
            io_uring_sqe* poll = ring_.next_sqe();
            ::io_uring_prep_cancel64(poll, kAcceptPoll, 0);
            ::io_uring_sqe_set_data64(poll, kIgnore);
        } else {
            listener_.reset();
        }
        std::vector<Connection*> idle;
        for (const auto& [key, c] : connections_)
            if (!c->out && !c->delayed && !c->lingering && c->in.empty()) idle.push_back(key);
        for (Connection* c : idle) {
            // A request may be waiting in the socket: it was received, so it is answered (the receive in
            // flight brings it). Otherwise the idle connection closes now.
            char byte = 0;
            if (::recv(c->fd.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0 || c->eof)
                close(*c, "closed: the server is stopping");
        }
    }

    // Hands the kernel a receive, unless one is in flight or the connection has enough unparsed input.
    void arm_recv(Connection& c) {
        if (c.receiving || c.closed || c.eof) return;
        if (!c.lingering && c.in.size() >= kMaxBuffered) return;
        io_uring_sqe* sqe = ring_.next_sqe();
        if (provided_buffers_) {
            ::io_uring_prep_recv(sqe, c.fd.get(), nullptr, kBufferSize, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = kBufferGroup;
        } else {
            if (!c.own_buffer) c.own_buffer = std::make_unique<char[]>(kBufferSize);
            ::io_uring_prep_recv(sqe, c.fd.get(), c.own_buffer.get(), kBufferSize, 0);
        }
        set_data(sqe, c, kRecv);
        c.receiving = true;
    }

    void on_recv(Connection& c, const io_uring_cqe& cqe) {
        c.receiving = false;
        if (cqe.res > 0) {
            const char* bytes = c.own_buffer.get();
            const unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
            if (cqe.flags & IORING_CQE_F_BUFFER) bytes = buffers_.buffer(id);
            if (!c.lingering && !c.closed) c.in.append(bytes, static_cast<size_t>(cqe.res));
            if (cqe.flags & IORING_CQE_F_BUFFER) buffers_.give_back(id);
        }
        if (c.closed) return free_if_done(c);
        if (cqe.res == 0) c.eof = true;
        if (cqe.res < 0 && cqe.res != -ENOBUFS && cqe.res != -EINTR && cqe.res != -EAGAIN)
            return close(c, "closed: connection error");
        advance(c);  // (-ENOBUFS: every buffer was taken; they are back by now, and advance re-arms)
    }

    // Moves the connection as far as it can go; the kernel holds what is left to do.
    void advance(Connection& c) {
        for (;;) {
            if (c.closed) return;
            if (c.lingering) {
                if (c.eof) return close(c, nullptr);
                return arm_recv(c);
            }
            if (c.out) {
                if (!c.out_done) return arm_recv(c);  // (receiving while sending: pipelined requests)
                const AfterResponse next = response_sent(c, settings_, worker_);
                if (next == AfterResponse::Linger) return linger(c);
                if (next == AfterResponse::Close) return close(c, "closed after the response");
                continue;
            }
            if (c.delayed) {
                if (Clock::now() < c.delay_until) return arm_recv(c);
                start_response(c, respond(*c.delayed, settings_, worker_, c.info));
                c.delayed.reset();
                continue;
            }
            const http::ParseResult parsed = http::parse_request(c.in);
            if (parsed.status == http::ParseStatus::Incomplete) {
                if (c.eof) return close(c, "closed by the client");
                if (stopping_ && c.in.empty()) return close(c, "closed: the server is stopping");
                return arm_recv(c);
            }
            c.in.erase(0, parsed.consumed);
            if (delay_request(c, parsed, settings_, worker_)) {
                timers_.add(c.delay_until, &c);
                continue;
            }
            start_response(c, respond(parsed, settings_, worker_, c.info));
        }
    }

    // The head goes out with the first chunk of the file, in one send.
    void start_response(Connection& c, Response response) {
        c.out = std::move(response);
        c.out_done = false;
        c.wire = std::move(c.out->head);
        c.wire_sent = 0;
        if (c.out->remaining > 0)
            read_chunk(c);
        else
            send_wire(c);
    }

    void read_chunk(Connection& c) {
        Response& r = *c.out;
        const size_t n = std::min(r.remaining, kChunk);
        c.read_at = c.wire.size();
        c.wire.resize(c.read_at + n);
        io_uring_sqe* sqe = ring_.next_sqe();
        ::io_uring_prep_read(sqe, r.file.get(), c.wire.data() + c.read_at, static_cast<unsigned>(n),
                             static_cast<uint64_t>(r.offset));
        // RWF_NOWAIT: from the page cache, or EAGAIN at once, rather than a kernel worker thread that blocks
        // on the disk (see on_read).
        sqe->rw_flags = RWF_NOWAIT;
        set_data(sqe, c, kRead);
        c.reading = true;
    }

    void on_read(Connection& c, int res) {
        c.reading = false;
        if (c.closed) return free_if_done(c);
        if (res == -EAGAIN) {
            // Not in the page cache: read it here, blocking on the disk as sendfile does in async.cpp. (Without
            // RWF_NOWAIT, io_uring hands such a read to a worker thread of its own, iou-wrk, which lingers.)
            const Response& r = *c.out;
            ssize_t n = -1;
            do n = ::pread(r.file.get(), c.wire.data() + c.read_at, c.wire.size() - c.read_at, r.offset);
            while (n < 0 && errno == EINTR);
            res = n < 0 ? -errno : static_cast<int>(n);
        }
        if (res <= 0) return close(c, "dropped: connection error");  // (0: the file shrank under us)
        Response& r = *c.out;
        c.wire.resize(c.read_at + static_cast<size_t>(res));
        r.offset += res;
        r.remaining -= static_cast<size_t>(res);
        if (r.remaining == 0 && kCloseInRing) {
            // All read: the file is closed by the kernel as well, queued with the send (no close() call).
            io_uring_sqe* sqe = ring_.next_sqe();
            ::io_uring_prep_close(sqe, r.file.release());
            ::io_uring_sqe_set_data64(sqe, kIgnore);
        }
        send_wire(c);
    }

    void send_wire(Connection& c) {
        const int more = c.out->remaining > 0 ? MSG_MORE : 0;  // more of the file follows: fill the segments
        io_uring_sqe* sqe = ring_.next_sqe();
        // MSG_DONTWAIT: a full socket buffer completes the send with EAGAIN, and the loop waits for room with
        // a poll (on_send). Without it io_uring waits by itself, but once the client has shut its side it
        // hands the send to a worker thread of its own (iou-wrk), which lingers after.
        ::io_uring_prep_send(sqe, c.fd.get(), c.wire.data() + c.wire_sent, c.wire.size() - c.wire_sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT | more);
        set_data(sqe, c, kSend);
        c.sending = true;
    }

    void on_send(Connection& c, int res) {
        c.sending = false;
        if (c.closed) return free_if_done(c);
        if (res == -EAGAIN) {
            io_uring_sqe* sqe = ring_.next_sqe();
            ::io_uring_prep_poll_add(sqe, c.fd.get(), POLLOUT);
            set_data(sqe, c, kSendPoll);
            c.sending = true;
            return;
        }
        if (res < 0) return close(c, "dropped: connection error");
        c.wire_sent += static_cast<size_t>(res);
        if (c.wire_sent < c.wire.size()) return send_wire(c);  // a short send: the rest
        if (c.out->remaining > 0) {
            c.deadline = idle_deadline(settings_);  // a client that reads is not idle
            c.wire.clear();
            c.wire_sent = 0;
            return read_chunk(c);
        }
        c.out_done = true;
        advance(c);
    }

    // A closing response is out, and the client may still be sending: shut our side, read on (event_loop.hpp).
    void linger(Connection& c) {
        begin_linger(c, settings_, worker_);
        advance(c);
    }

    // Closes the connection: at once if the kernel holds none of its operations, otherwise once they have
    // completed (shutting the socket down makes a pending receive or send complete now).
    void close(Connection& c, const char* why) {
        if (c.closed) return;
        if (why != nullptr) log_line(settings_, worker_, c.info, why);
        c.closed = true;
        if (c.receiving || c.sending) ::shutdown(c.fd.get(), SHUT_RDWR);
        free_if_done(c);
    }

    void free_if_done(Connection& c) {
        if (c.closed && !c.busy()) connections_.erase(&c);  // closes the descriptor
    }

    // Past the idle timeout: a 408 for a client that has not sent a whole request, and the close (event_loop.hpp).
    // A connection already closed is only waiting for its operations to complete.
    void close_idle(Clock::time_point now) {
        for (Connection* c : past_deadline(connections_, now))
            if (!c->closed) close(*c, time_out(*c));
    }

    Worker worker_;
    netutil::UniqueFd listener_;
    const Settings& settings_;
    int stop_fd_;
    netutil::Ring ring_;
    BufferRing buffers_;  // (declared after the ring, so destroyed before it)
    bool provided_buffers_ = false;
    bool multishot_accept_ = false;
    bool accepting_ = false;  // an accept (or the poll before one) is in flight
    Acceptor acceptor_;
    std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
    LoopTimers<Connection*> timers_;  // -d's, by the connection's address
    bool stopping_ = false;
    Clock::time_point grace_deadline_{};
};

}  // namespace

void check_uring() {
    const netutil::Ring ring(4);
    require_operations(ring);
}

void run_uring(netutil::UniqueFd listener, uint16_t port, const Settings& settings, const netutil::StopPipe& stop) {
    // Every loop gets its own ring, its own listener on the same port, and its own thread (event_loop.hpp); the
    // thread starts the ring (netutil::Ring::OwnThread), and is the only one that submits to it.
    run_loops<UringLoop>(std::move(listener), port, settings, stop);
}

}  // namespace web
