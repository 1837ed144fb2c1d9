// 07_epoll/uring.cpp: --mode uring, the Proactor: the echo server on io_uring (netutil::Ring, liburing).
//
// select, poll and epoll are the Reactor of the lecture's "Reactor and Proactor": the kernel says a socket
// is READY, and the loop then makes the read or write itself, one system call each. Here the loop hands
// the kernel the operations themselves (accept, receive, send) on a submission queue, and the kernel
// reports each one COMPLETED, with its result, on a completion queue: the Proactor, asynchronous I/O. One
// io_uring_enter submits everything queued and waits for completions, so a busy loop makes one system
// call per round however many sockets it serves.
//
// Where the kernel has them (Linux 6.0: its probe lists IORING_OP_SEND_ZC, which came with multishot
// receive), one accept stays armed for every client (multishot accept) and one receive per connection for
// every message (multishot receive), taking buffers from a ring of buffers we lend the kernel (provided
// buffers): an idle connection holds no buffer. On older kernels each accept and receive is single-shot,
// submitted again after each completion. The echo's first send carries MSG_DONTWAIT: the kernel takes what
// the socket takes at once, as epoll's send does; the rest is sent by a send that completes when it has all
// gone, and until then the connection stops receiving (flow control, as in the other modes).
// Stop signals: a poll on the signalfd, through the same ring.
#include "07_epoll/models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/socket.hpp"
#include "netutil/uring.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <vector>

namespace echo {

namespace {

constexpr unsigned kRingEntries = 256;
// The buffers lent to the kernel for receives: 64 (a power of two) of 64 KiB, the size the other modes read
// at a time. Smaller buffers split a message the others echo in one write (20,000 bytes into 16,384 + 3,616)
// into two sends, and Nagle's algorithm holds the short second one until the client acknowledges the first,
// which it delays: about 11 ms per message on the loopback, 17.7 s instead of 80 ms for 1,600 such messages.
constexpr unsigned kBuffers = 64;
constexpr unsigned kBufferSize = 64 * 1024;
constexpr int kBufferGroup = 0;

// What a completion is for (its user_data): the operation in the top byte, then a flag (a send's first
// try), then for a connection 23 bits of its serial and its descriptor.
enum Op : uint64_t { kAccept = 1, kStop, kReceive, kSend, kCancel };
constexpr uint64_t kAtOnce = uint64_t(1) << 55;
constexpr uint32_t kSerialMask = 0x7fffff;
uint64_t tag(Op op, const Connection& connection) {
    return op << 56 | uint64_t(connection.serial & kSerialMask) << 32 | uint32_t(connection.fd.get());
}

// The buffers the kernel receives into: a ring of kBuffers entries, shared with the kernel (Linux 5.19).
class BufferRing {
public:
    explicit BufferRing(io_uring* ring) : ring_(ring), memory_(size_t(kBuffers) * kBufferSize) {
        const size_t size = kBuffers * sizeof(io_uring_buf);
        void* shared = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        if (shared == MAP_FAILED) netutil::throw_errno("mmap");
        entries_ = static_cast<io_uring_buf_ring*>(shared);
        io_uring_buf_reg registration{};
        registration.ring_addr = reinterpret_cast<uint64_t>(shared);
        registration.ring_entries = kBuffers;
        registration.bgid = kBufferGroup;
        if (const int rc = ::io_uring_register_buf_ring(ring_, &registration, 0); rc < 0) {
            ::munmap(shared, size);
            throw netutil::UringUnavailable(
                std::string("io_uring is not available here: io_uring_register_buf_ring: ") + std::strerror(-rc) +
                " (buffer rings need Linux 5.19 or newer)");
        }
        ::io_uring_buf_ring_init(entries_);
        for (unsigned id = 0; id < kBuffers; ++id) give_back(id);
    }
    ~BufferRing() {
        ::io_uring_unregister_buf_ring(ring_, kBufferGroup);
        ::munmap(entries_, kBuffers * sizeof(io_uring_buf));
    }
    BufferRing(const BufferRing&) = delete;
    BufferRing& operator=(const BufferRing&) = delete;

    const char* data(unsigned id) const { return memory_.data() + size_t(id) * kBufferSize; }
    // The kernel may fill buffer `id` again.
    void give_back(unsigned id) {
        ::io_uring_buf_ring_add(entries_, memory_.data() + size_t(id) * kBufferSize, kBufferSize, uint16_t(id),
                                ::io_uring_buf_ring_mask(kBuffers), 0);
        ::io_uring_buf_ring_advance(entries_, 1);
    }

private:
    io_uring* ring_;
    std::vector<char> memory_;
    io_uring_buf_ring* entries_ = nullptr;
};

class UringLoop {
public:
    UringLoop(EchoServer& server, int stop_fd)
        : server_(server),
          stop_fd_(stop_fd),
          ring_(kRingEntries, netutil::Ring::OwnThread{}),
          buffers_(ring_.get()),
          multishot_(ring_.supports(IORING_OP_SEND_ZC)) {}

    void run() {
        ring_.start();  // from here on, this thread alone submits to the ring
        // The kernel waits for clients itself: the listening socket need not be non-blocking.
        netutil::set_nonblocking(server_.listen_fd(), false);
        netutil::print_line(std::string("io_uring: ") +
                            (multishot_ ? "multishot accept and receive" : "single-shot accept and receive") + ", " +
                            std::to_string(kBuffers) + " provided buffers of " + std::to_string(kBufferSize / 1024) +
                            " KiB");
        submit_accept();
        io_uring_sqe* stop = ring_.next_sqe();
        ::io_uring_prep_poll_add(stop, stop_fd_, POLLIN);
        ::io_uring_sqe_set_data64(stop, uint64_t(kStop) << 56);
        while (!server_.done()) {
            if (server_.resume_due()) submit_accept();
            // One system call: submit what is queued, wait for at least one completion (or the time-out).
            const int timeout_ms = server_.wait_timeout_ms();
            __kernel_timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000000LL};
            io_uring_cqe* cqe = nullptr;
            const int rc =
                ::io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, timeout_ms < 0 ? nullptr : &timeout, nullptr);
            if (rc < 0 && rc != -ETIME && rc != -EINTR) netutil::throw_error(-rc, "io_uring_submit_and_wait");
            unsigned head = 0, seen = 0;
            io_uring_for_each_cqe(ring_.get(), head, cqe) {
                complete(*cqe);
                ++seen;
            }
            ::io_uring_cq_advance(ring_.get(), seen);
        }
    }

private:
    void submit_accept() {
        io_uring_sqe* sqe = ring_.next_sqe();
        // The peer's address comes from getpeername(): one address buffer would not do for a multishot accept.
        if (multishot_)
            ::io_uring_prep_multishot_accept(sqe, server_.listen_fd(), nullptr, nullptr, SOCK_CLOEXEC);
        else
            ::io_uring_prep_accept(sqe, server_.listen_fd(), nullptr, nullptr, SOCK_CLOEXEC);
        ::io_uring_sqe_set_data64(sqe, uint64_t(kAccept) << 56);
        accept_armed_ = true;
    }
    void submit_receive(Connection& connection) {
        io_uring_sqe* sqe = ring_.next_sqe();
        if (multishot_)
            ::io_uring_prep_recv_multishot(sqe, connection.fd.get(), nullptr, 0, 0);
        else
            ::io_uring_prep_recv(sqe, connection.fd.get(), nullptr, kBufferSize, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;  // the kernel picks a buffer when data arrives
        sqe->buf_group = kBufferGroup;
        ::io_uring_sqe_set_data64(sqe, tag(kReceive, connection));
        connection.receiving = true;
    }
    // Sends what is left of `output`. `at_once`: MSG_DONTWAIT, complete with what the socket takes now.
    void submit_send(Connection& connection, bool at_once) {
        io_uring_sqe* sqe = ring_.next_sqe();
        ::io_uring_prep_send(sqe, connection.fd.get(), connection.output.data() + connection.output_sent,
                             connection.output.size() - connection.output_sent,
                             MSG_NOSIGNAL | (at_once ? MSG_DONTWAIT : 0));
        ::io_uring_sqe_set_data64(sqe, tag(kSend, connection) | (at_once ? kAtOnce : 0));
        connection.sending = true;
    }
    void cancel(uint64_t user_data) {
        io_uring_sqe* sqe = ring_.next_sqe();
        ::io_uring_prep_cancel64(sqe, user_data, 0);
        ::io_uring_sqe_set_data64(sqe, uint64_t(kCancel) << 56);
    }
    // Closes the connection. What it has in flight holds the socket open in the kernel: cancel that first,
    // submitted now, while the descriptor still names the socket.
    void close(Connection& connection, const std::string& why) {
        if (connection.receiving || connection.sending) {
            io_uring_sqe* sqe = ring_.next_sqe();
            ::io_uring_prep_cancel_fd(sqe, connection.fd.get(), IORING_ASYNC_CANCEL_ALL);
            ::io_uring_sqe_set_data64(sqe, uint64_t(kCancel) << 56);
            ::io_uring_submit(ring_.get());
        }
        server_.close(connection.fd.get(), why);
    }

    void complete(const io_uring_cqe& cqe) {
        const uint64_t data = ::io_uring_cqe_get_data64(&cqe);
        const Op op = Op(data >> 56);
        const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
        if (op == kAccept) return accepted(cqe.res, more);
        if (op == kStop) {
            // Cancel the accept before the listening socket is closed, so that it really closes: the kernel
            // holds the socket while an accept is armed. Submitted now: no client is let in once we say so.
            if (accept_armed_) {
                cancel(uint64_t(kAccept) << 56);
                ::io_uring_submit(ring_.get());
            }
            server_.begin_stop();
            return;
        }
        if (op == kCancel) return;
        Connection* connection = server_.find(int(uint32_t(data)));
        const bool current =
            connection != nullptr && (connection->serial & kSerialMask) == ((data >> 32) & kSerialMask);
        if (op == kReceive) {
            // A buffer the kernel filled comes back whatever happens: copied out, it is lent again at once.
            const unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
            if (current) received(*connection, cqe.res, cqe.flags & IORING_CQE_F_BUFFER ? buffers_.data(id) : "", more);
            if (cqe.flags & IORING_CQE_F_BUFFER) buffers_.give_back(id);
            return;
        }
        if (op == kSend && current) sent(*connection, cqe.res, (data & kAtOnce) != 0);
    }

    void accepted(int result, bool more) {
        if (!more) accept_armed_ = false;
        if (result >= 0) {
            netutil::UniqueFd fd(result);
            if (server_.stopping()) return;  // accepted before the cancel took effect: let it go
            netutil::SockAddr peer;
            ::getpeername(fd.get(), peer.get(), &peer.length);
            const int adopted = server_.adopt(std::move(fd), peer);
            if (adopted >= 0) submit_receive(*server_.find(adopted));
        } else if (result == -EMFILE || result == -ENFILE) {
            // Out of descriptors: the accept has ended; arm it again only when resume_due() says so.
            server_.pause_accepting(-result);
            return;
        } else if (result != -ECANCELED && result != -ECONNABORTED && result != -EINTR) {
            netutil::throw_error(-result, "accept");
        }
        if (!accept_armed_ && !server_.stopping() && server_.accepting()) submit_accept();
    }

    void received(Connection& connection, int result, const char* data, bool more) {
        if (!more) connection.receiving = false;
        if (result > 0) {
            server_.count_read(size_t(result));
            if (connection.sending) {
                // The socket is full: keep this, and stop receiving until the send in flight completes.
                connection.queued.append(data, size_t(result));
                server_.log_echo(connection.fd.get(), size_t(result), 0);
                if (connection.receiving) cancel(tag(kReceive, connection));
                return;
            }
            connection.output.assign(data, size_t(result));
            connection.output_sent = 0;
            submit_send(connection, true);
        } else if (result == 0) {
            connection.peer_closed = true;
            if (!connection.sending) close(connection, "end of input");
            return;
        } else if (result != -ENOBUFS && result != -ECANCELED) {
            close(connection, std::string("read: ") + std::strerror(-result));
            return;
        }
        // Out of buffers (-ENOBUFS: more connections received at once than there are buffers), or single-shot:
        // receive again, now that the buffers of the completions before this one are back.
        // Cancelled by us (the socket was full) and the send has completed since: receive again too.
        if (!connection.receiving && !connection.sending && !connection.peer_closed) submit_receive(connection);
    }

    void sent(Connection& connection, int result, bool at_once) {
        connection.sending = false;
        if (result == -EAGAIN && at_once) result = 0;  // the socket took nothing now
        if (result < 0) {
            if (result != -ECANCELED) close(connection, std::string("write: ") + std::strerror(-result));
            return;
        }
        if (at_once) server_.log_echo(connection.fd.get(), connection.output.size(), size_t(result));
        connection.output_sent += size_t(result);
        if (connection.has_output()) return submit_send(connection, false);  // completes when it has all gone
        if (!connection.queued.empty()) {
            connection.output.swap(connection.queued);
            connection.queued.clear();
            connection.output_sent = 0;
            return submit_send(connection, false);
        }
        connection.output.clear();
        connection.output.shrink_to_fit();  // idle connections hold no buffer
        connection.queued.shrink_to_fit();
        connection.output_sent = 0;
        if (connection.peer_closed) {
            close(connection, "end of input, everything echoed");
            return;
        }
        if (!connection.receiving) submit_receive(connection);
    }

    EchoServer& server_;
    int stop_fd_;
    netutil::Ring ring_;
    BufferRing buffers_;
    bool multishot_;
    bool accept_armed_ = false;
};

}  // namespace

void run_uring(EchoServer& server, int stop_fd) { UringLoop(server, stop_fd).run(); }

}  // namespace echo
