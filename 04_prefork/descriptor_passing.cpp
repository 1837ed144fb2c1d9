// 04_prefork/descriptor_passing.cpp: the preforked server whose parent accepts and passes each connected
// descriptor to an idle child over a Unix-domain socket pair (UNP's serv05; the lecture's "Preforking:
// Descriptor Passing").
//
// Watch for: the parent keeps, per child, its pid, its end of the socket pair, whether it is busy and how
// many connections it got (UNP's Child structure). It accepts only while some child is idle: with all of
// them busy it stops watching the listening socket and new clients wait in the backlog. A child writes
// one byte back on its socket pair when it is free again. Scheduling is done by the parent, not the
// kernel: the first idle child in the table gets the next client, so the counts are very uneven.
#include "04_prefork/models.hpp"

#include "netutil/error.hpp"
#include "netutil/output.hpp"
#include "netutil/signals.hpp"
#include "netutil/socket.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace prefork {

namespace {

// UNP's write_fd: one byte of data carries the descriptor as SCM_RIGHTS ancillary data.
[[maybe_unused]] void send_descriptor(int channel, int fd) {  // unused in the handout's stub
    // BEGIN SOLUTION 04.2 "sending the connected descriptor over the socket pair (SCM_RIGHTS)"
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
    while (::sendmsg(channel, &message, MSG_NOSIGNAL) == -1)
        if (errno != EINTR) netutil::throw_errno("sendmsg SCM_RIGHTS");
    // END SOLUTION
    // BEGIN STUB
    // // TODO (assignment 2): send fd to the child at the other end of channel: one byte of data, the descriptor
    // // as SCM_RIGHTS ancillary data (sendmsg with a cmsghdr at SOL_SOCKET level; CMSG_SPACE, CMSG_DATA).
    // (void)channel;
    // (void)fd;
    // netutil::not_implemented("04.2");
    // END STUB
}

// UNP's read_fd: the received descriptor, or an empty one when the parent closed the socket pair.
netutil::UniqueFd receive_descriptor(int channel) {
    // BEGIN SOLUTION 04.2 "receiving the descriptor in the child"
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = ::recvmsg(channel, &message, MSG_CMSG_CLOEXEC)) == -1)
        if (errno != EINTR) netutil::throw_errno("recvmsg SCM_RIGHTS");
    if (n == 0) return {};
    const cmsghdr* header = CMSG_FIRSTHDR(&message);
    if (header == nullptr || header->cmsg_type != SCM_RIGHTS || header->cmsg_len != CMSG_LEN(sizeof(int)))
        throw std::runtime_error("a message without a descriptor on the socket pair");
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return netutil::UniqueFd(fd);
    // END SOLUTION
    // BEGIN STUB
    // // TODO (assignment 2): receive the descriptor the parent sent on channel (recvmsg with room for one
    // // SCM_RIGHTS cmsghdr); return it, or an empty UniqueFd when recvmsg returns 0 (the parent closed it).
    // // (Until then this stub waits for the parent's first byte, so that its children do not die and get
    // // replaced forever before the first client.)
    // char byte = 0;
    // if (::recv(channel, &byte, 1, 0) == 0) return {};
    // netutil::not_implemented("04.2");
    // END STUB
}

// The parent's record of one child (UNP's Child structure).
struct Child {
    pid_t pid = -1;
    netutil::UniqueFd channel;  // the parent's end of the socket pair
    bool busy = false;
    long connections = 0;
};

void child_main(Server& server, std::vector<Child>& children, int channel, int slot) {
    // Keep only our end of our socket pair: not the listening socket, not the other children's channels.
    server.listener.reset();
    server.close_parent_only();
    for (auto& other : children) other.channel.reset();
    const std::string who = "child " + std::to_string(slot);
    netutil::print_line(who + " starting (pid " + std::to_string(::getpid()) + ")");
    for (;;) {
        begin_waiting();
        netutil::UniqueFd client = receive_descriptor(channel);
        end_waiting();
        if (!client) return;  // the parent closed our channel: it is stopping
        const bool stopping = serve(client.get(), server, server.stop.fd(), who);
        client.reset();
        const char free_again = 0;
        if (::send(channel, &free_again, 1, MSG_NOSIGNAL) != 1) return;
        if (stopping || stop_requested()) return;
    }
}

}  // namespace

void run_descriptor_passing(Server& server) {
    netutil::set_nonblocking(server.listener.get());  // only the parent accepts
    const int n = server.settings.nchildren;
    std::vector<Child> children(static_cast<size_t>(n));
    auto make_child = [&](int slot) {
        int pair[2];
        netutil::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), "socketpair");
        netutil::UniqueFd parent_end(pair[0]), child_end(pair[1]);
        Child& child = children[static_cast<size_t>(slot)];
        child.channel.reset();
        child.pid = fork_child([&] {
            parent_end.reset();
            child_main(server, children, child_end.get(), slot);
        });
        child.channel = std::move(parent_end);
        child.busy = false;
    };
    for (int slot = 0; slot < n; ++slot) make_child(slot);

    int stop_signal = 0;
    std::vector<pollfd> fds;
    while (stop_signal == 0) {
        // The signalfd, the listening socket only while a child is idle, and every child's channel.
        int idle = 0;
        for (const auto& child : children) idle += (child.channel && !child.busy) ? 1 : 0;
        fds.assign(1, {server.signals.fd(), POLLIN, 0});
        fds.push_back({idle > 0 ? server.listener.get() : -1, POLLIN, 0});
        for (const auto& child : children) fds.push_back({child.channel ? child.channel.get() : -1, POLLIN, 0});
        if (::poll(fds.data(), fds.size(), -1) == -1) {
            if (errno == EINTR) continue;
            netutil::throw_errno("poll");
        }

        if (fds[0].revents != 0) {
            const auto pending = server.signals.read();
            stop_signal = pending.stop_signal;
            if (pending.child_ended) {
                for (const auto& done : netutil::reap_children()) {
                    for (int slot = 0; slot < n; ++slot) {
                        Child& child = children[static_cast<size_t>(slot)];
                        if (child.pid != done.pid) continue;
                        child.channel.reset();
                        child.pid = -1;
                        if (stop_signal != 0) break;
                        make_child(slot);
                        netutil::print_line("child " + std::to_string(slot) + " (pid " + std::to_string(done.pid) +
                                            ") " + netutil::describe_status(done.status) + ": replaced by pid " +
                                            std::to_string(child.pid));
                    }
                }
                continue;  // the table changed: rebuild the poll set
            }
        }
        if (stop_signal != 0) break;

        // A child is free again (one byte), or gone (EOF: its SIGCHLD will replace it).
        for (int slot = 0; slot < n; ++slot) {
            Child& child = children[static_cast<size_t>(slot)];
            if (fds[static_cast<size_t>(slot) + 2].revents == 0 || !child.channel) continue;
            char byte;
            const ssize_t got = ::recv(child.channel.get(), &byte, 1, MSG_DONTWAIT);
            if (got == 1)
                child.busy = false;
            else if (got == 0 || (errno != EAGAIN && errno != EINTR))
                child.channel.reset();
        }

        if (fds[1].revents != 0) {
            // BEGIN SOLUTION 04.2 "the parent accepts and hands the connection to an idle child"
            netutil::UniqueFd client = byte_count::accept_or_wait(server.listener.get(), "server");
            if (!client) continue;
            for (auto& child : children) {
                if (!child.channel || child.busy) continue;
                try {
                    send_descriptor(child.channel.get(), client.get());
                } catch (const std::system_error&) {  // it died just now: try the next idle child
                    child.channel.reset();
                    continue;
                }
                child.busy = true;
                ++child.connections;
                break;
            }
            // Passed on (the child has its own copy) or, if every idle child died at once, dropped.
            // END SOLUTION
            // BEGIN STUB
            // // TODO (assignment 2): accept the client (byte_count::accept_or_wait; empty: nothing to accept)
            // // and pass it with send_descriptor to the first idle child (a channel, not busy); mark that child
            // // busy and count the connection. A child that died just now (sendmsg fails): try the next one.
            // // The parent then closes its own copy of the connection.
            // netutil::not_implemented("04.2");
            // END STUB
        }
    }

    std::vector<pid_t> pids;
    for (auto& child : children) {
        child.channel.reset();  // an idle child sees EOF on its channel and exits
        if (child.pid > 0) pids.push_back(child.pid);
    }
    stop_children(server, pids);
    std::vector<long> connections;
    for (const auto& child : children) connections.push_back(child.connections);
    byte_count::print_pool_summary(stop_signal, "child", connections, "", kCpuNote);
}

}  // namespace prefork
