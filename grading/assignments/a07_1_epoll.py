"""07.1, the lecture's single-process servers: the epoll event loop with per-connection output buffers.

`server PORT --mode epoll --quiet` (07_epoll/README.md: every byte a client sends comes back, one thread serves
all clients). Black-box: the grader's clients check the bytes that come back; CPU time is read from
/proc/PID/stat (utime + stime of the server's processes), never from the server's own summary. The reference of
the last stage is the kit's own `./server --mode poll` (never replaced by SERVER=), run in the same stage.
"""

import os
import random
import resource
import select
import socket
import struct
import time

from grading.harness import Assignment, Program, Stage, group_members

def start_server(t, name="server", mode="epoll"):
    args = ["--mode", mode, "--quiet"]
    t.step(f"start ./server PORT {' '.join(args)}" + (" (the kit's reference)" if name != "server" else ""))
    return t.start(name, args, port=True)


def connect(t, port, what):
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=t.timeout(5.0))
    except OSError as error:
        t.fail(f"{what} could not connect: {error}", cause="is the server listening, and accepting?")
    sock.setblocking(False)
    return sock


def exchange(t, port, payloads, timeout, what, chunk=16384, seed=7, socks=None, sent=None, stuck_cause=None):
    """Clients (one per payload) send their payload in pieces of random size while reading what comes back,
    all at once in one select loop; then shut down their sending side and read until the server closes.
    Fails unless each client got its own bytes back, exactly. `socks` and `sent`: clients already connected
    (non-blocking) that sent that many bytes of their payload already."""
    rng = random.Random(seed)
    socks = socks or [connect(t, port, f"client {i}") for i in range(len(payloads))]
    sent = sent or [0] * len(payloads)
    got, eof = [bytearray() for _ in payloads], [False] * len(payloads)
    shut = [False] * len(payloads)
    for i, s in enumerate(socks):
        if sent[i] == len(payloads[i]):
            s.shutdown(socket.SHUT_WR)
            shut[i] = True
    deadline = time.monotonic() + t.timeout(timeout)
    try:
        while not all(eof):
            left = deadline - time.monotonic()
            if left <= 0:
                detail = ", ".join(f"client {i}: sent {sent[i]}/{len(p)}, got {len(got[i])}"
                                   for i, p in enumerate(payloads) if not eof[i])
                t.fail(f"timed out after {t.timeout(timeout):g} s: {what} ({detail})",
                       cause=stuck_cause or "does every connection get its turn? Each event must be handled "
                                            "without blocking: a write the socket does not take whole goes to "
                                            "that connection's output buffer")
            writers = [s for i, s in enumerate(socks) if sent[i] < len(payloads[i])]
            readers = [s for i, s in enumerate(socks) if not eof[i]]
            r, w, _ = select.select(readers, writers, [], min(left, 0.5))
            for s in w:
                i = socks.index(s)
                size = rng.randint(1, chunk)
                try:
                    sent[i] += s.send(payloads[i][sent[i]:sent[i] + size])
                except BlockingIOError:
                    pass
                except OSError as error:
                    t.fail(f"client {i} could not send: {error} after {sent[i]} bytes",
                           cause="did the server close the connection?")
                if sent[i] == len(payloads[i]) and not shut[i]:
                    s.shutdown(socket.SHUT_WR)
                    shut[i] = True
            for s in r:
                i = socks.index(s)
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as error:
                    t.fail(f"client {i}: {error} after {len(got[i])} bytes back",
                           cause="did the server reset the connection?")
                if not data:
                    eof[i] = True
                    expect_echo(t, i, payloads[i], bytes(got[i]), True)
                    continue
                start = len(got[i])
                got[i] += data
                if payloads[i][start:start + len(data)] != data:
                    expect_echo(t, i, payloads[i], bytes(got[i]), False)
    finally:
        for s in socks:
            s.close()


def expect_echo(t, i, sent, got, eof):
    if got == sent:
        return
    same = next((k for k in range(min(len(sent), len(got))) if sent[k] != got[k]), min(len(sent), len(got)))
    if len(got) < len(sent) and got == sent[:len(got)]:
        if not eof:
            return
        t.fail(f"client {i} sent {len(sent)} bytes and got {len(got)} back before the server closed: the last "
               f"{len(sent) - len(got)} bytes are missing", expected=f"{len(sent)} bytes, the same",
               actual=f"{len(got)} bytes, a prefix of them",
               cause="is the unsent tail of a reply kept? send() on a non-blocking socket may take only part of "
                     "the bytes (or none, EAGAIN): the rest must stay in the connection's output buffer and go "
                     "out when epoll reports EPOLLOUT")
    t.fail(f"client {i}: the bytes that came back differ from the bytes sent, from byte {same} on "
           f"({len(got)} back of {len(sent)} sent)",
           expected=f"byte {same}: {sent[same:same + 16]!r}", actual=f"{got[same:same + 16]!r}",
           cause="is the output buffer sent from where it stopped (output_sent), each connection's bytes to "
                 "its own socket, none twice and none skipped?")


def payload(rng, size):
    return bytes(rng.getrandbits(8) for _ in range(size)) if size < 4096 else rng.randbytes(size)


def s1_echo(t, clients=20, size=200000, seed=71, mode="epoll"):
    srv = start_server(t, mode=mode)
    t.repro_with(srv, f"   # then: ./client 127.0.0.1 {srv.port} (type lines)")
    rng = random.Random(seed)
    t.step("one client sends 5 bytes and reads them back")
    exchange(t, srv.port, [b"hello"], 5.0, "the echo of 5 bytes")
    payloads = [payload(rng, size + rng.randint(0, 999)) for _ in range(clients)]
    t.step(f"{clients} clients at once, each sending ~{size // 1000} kB of random bytes in random pieces while "
           "reading the echo, then shutting down their sending side")
    exchange(t, srv.port, payloads, 30.0, f"the echo of {clients} clients")


def s2_slow_reader(t, others=5, size=65536, cap=128 << 20, seed=72, mode="epoll"):
    srv = start_server(t, mode=mode)
    t.repro_with(srv, f"   # then a client that sends and never reads, and others: ./client 127.0.0.1 {srv.port}")
    rng = random.Random(seed)
    t.step("client S sends without ever reading, until its sends block for 0.5 s (the server stopped reading "
           f"it: its echo is stuck), at most {cap >> 20} MiB")
    slow = connect(t, srv.port, "client S")
    block = rng.randbytes(1 << 16)
    sent = bytearray()
    blocked_since = None
    deadline = time.monotonic() + t.timeout(30.0)
    while len(sent) < cap and time.monotonic() < deadline:
        try:
            n = slow.send(block)
            sent += block[:n]
            blocked_since = None
        except BlockingIOError:
            blocked_since = blocked_since or time.monotonic()
            if time.monotonic() - blocked_since >= 0.5:
                break
            select.select([], [slow], [], 0.05)
        except OSError as error:
            t.fail(f"client S could not send: {error} after {len(sent)} bytes", cause="did the server close it?")
    t.log(f"[grader] client S sent {len(sent)} bytes without reading")
    try:
        t.step(f"meanwhile {others} other clients each send {size} bytes and must get them back")
        exchange(t, srv.port, [payload(rng, size) for _ in range(others)], 10.0,
                 "the other clients' echo while client S does not read")
        t.step(f"client S reads at last: its {len(sent)} bytes must all come back, in order")
        slow.shutdown(socket.SHUT_WR)
        got = bytearray()
        end = time.monotonic() + t.timeout(30.0)
        while time.monotonic() < end:
            if not select.select([slow], [], [], max(0, end - time.monotonic()))[0]:
                break
            try:
                data = slow.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                expect_echo(t, "S", bytes(sent), bytes(got), True)
                return
            got += data
            if len(got) > len(sent) or got[-len(data):] != sent[len(got) - len(data):len(got)]:
                expect_echo(t, "S", bytes(sent), bytes(got), False)
        expect_echo(t, "S", bytes(sent), bytes(got), True)
        t.fail(f"client S got {len(got)} of its {len(sent)} bytes and the server did not close within "
               f"{t.timeout(30.0):g} s", cause="does the server close a connection once it got EOF and sent "
                                                "everything back?")
    finally:
        slow.close()


# --- CPU per message with many idle connections ----------------------------------------------------------------


def cpu_ticks(proc):
    """utime + stime (clock ticks) of the program's processes, from /proc/PID/stat."""
    total = 0
    for pid in set(group_members(proc.pgid)) | {proc.pid}:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                rest = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = rest[rest.rfind(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def with_idle(t, proc, idle, what):
    """Opens `idle` connections that never send; waits until the server holds them (its open descriptors)."""
    t.step(f"{idle} idle connections to {what}")
    socks = []
    try:
        for i in range(idle):
            socks.append(socket.create_connection(("127.0.0.1", proc.port), timeout=t.timeout(5.0)))
    except OSError as error:
        for s in socks:
            s.close()
        t.fail(f"idle connection {len(socks)} to {what} failed: {error}",
               cause="does the server accept every client (and raise its descriptor limit)?")
    try:
        t.wait_until(lambda: sum(_fds(pid) for pid in group_members(proc.pgid)) >= idle, 20.0,
                     f"{what} to accept the {idle} idle connections (its open descriptors, from /proc)",
                     cause="does the server accept every client waiting, not one per event?")
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def _fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def round_trips(t, port, count, what):
    sock = socket.create_connection(("127.0.0.1", port), timeout=t.timeout(5.0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for k in range(count):
            message = b"%08d ping\n" % k
            sock.sendall(message)
            got = b""
            while len(got) < len(message):
                data = sock.recv(64)
                if not data:
                    t.fail(f"{what}: the server closed the active connection after {k} messages")
                got += data
            if got != message:
                t.fail(f"{what}: message {k} came back as {got!r}", cause="one connection's bytes, in order")
    except socket.timeout:
        t.fail(f"{what}: no echo within {t.timeout(5.0):g} s", cause="is the active connection served among the "
                                                                   "idle ones?")
    finally:
        sock.close()


def measure(t, proc, idle, count, what, until_ticks=None):
    """The server's CPU ticks for `count` messages among `idle` idle connections: (ticks, messages). With
    `until_ticks`, batches of `count` go on until the ticks reach it (at most 10 batches): a fast machine."""
    socks = with_idle(t, proc, idle, what)
    try:
        round_trips(t, proc.port, 20, what)  # warm up
        more = f" (batches of {count} until {until_ticks} ticks)" if until_ticks else ""
        t.step(f"{count} messages on one active connection{more}, the server's CPU time from /proc/{proc.pid}/stat")
        before = cpu_ticks(proc)
        start = time.monotonic()
        sent = 0
        while True:
            round_trips(t, proc.port, count, what)
            sent += count
            ticks = cpu_ticks(proc) - before
            if not until_ticks or ticks >= until_ticks or sent >= 10 * count:
                break
        t.log(f"[grader] {what}: {sent} messages with {idle} idle connections: {ticks} ticks of CPU, "
              f"{time.monotonic() - start:.2f} s")
        return ticks, sent
    finally:
        for s in socks:  # a reset, not a FIN: no TIME_WAIT left for thousands of ports
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()


def s3_idle_cost(t, idle=5000, count=500, ratio=0.5):
    idle = min(idle, raise_fd_limit(idle + 200) - 200)
    hz = os.sysconf("SC_CLK_TCK")
    ref = start_server(t, "reference", "poll")
    poll_ticks, count = measure(t, ref, idle, count, "the poll() reference", until_ticks=30)
    ref.signal(2)
    ref.wait_exit(10.0)
    srv = start_server(t)
    t.repro_with(srv, f"   # then {idle} idle connections and one busy one; compare ./server --mode poll")
    epoll_ticks, _ = measure(t, srv, idle, count, "the epoll server")
    t.expect(poll_ticks >= 10, expected=f"the poll() reference to take measurable CPU time ({count} messages, "
             f"{idle} idle connections)", actual=f"{poll_ticks} ticks of 1/{hz} s",
             cause="a machine too fast for this stage's count: tell the instructor")
    t.expect(epoll_ticks <= ratio * poll_ticks,
             message=f"with {idle} idle connections, {count} messages cost the epoll server {epoll_ticks / hz:.2f} s "
                     f"of CPU, the poll() reference {poll_ticks / hz:.2f} s",
             expected=f"at most {ratio:g} x the poll() reference's CPU time: epoll's cost follows the events, not "
                      "the connections", actual=f"{epoll_ticks} ticks against {poll_ticks}",
             cause="does each loop turn do work for every connection (a scan of all of them, an epoll_ctl per "
                   "connection, a new epoll instance)? Register a connection once, modify it only when what it "
                   "wants changes, and handle only the events epoll_wait returns")


ASSIGNMENT = Assignment(
    id="07.1", lab="07_epoll", title="the epoll event loop with per-connection output buffers",
    programs={"server": Program("./server", port="positional"), "reference": Program("./server", port="positional")},
    stages=[
        Stage("many clients echoed byte for byte", 30, s1_echo, san=True),
        Stage("a client that never reads does not block the others", 30, s2_slow_reader, san=True),
        Stage("5,000 idle connections cost no CPU per message", 20, s3_idle_cost, timeout=120.0),
    ],
)
