"""Assignment 04.1: the accept lock around accept() in the preforked pool (04_prefork/README.md#assignment-1).

What the README fixes, and so all the stages rely on: `server PORT NCHILDREN --mode flock|mutex` runs a pool
of NCHILDREN preforked children that accept the connections themselves and speak the byte-count protocol (the
client writes a count from 1 to 1048576 and a newline, the server writes exactly that many bytes; the client
may ask again or close). The accept probe: with PREFORK_ACCEPT_PROBE=1 in its environment, every worker
writes the line `accept enter ID` right before it calls accept() and `accept leave ID` right after accept()
returns, each line in one write(2) to its standard output (ID: the child's PID, a hybrid thread PID.TID).
These are the only lines of its output the grader reads.

S1 the load client's bytes, exact for every connection: 24 connections, 6 at a time, two requests each
   (1 to 1048576 bytes), for --mode flock and --mode mutex.
S2 one child at a time inside accept(): the probe's lines, read in order, never show two workers between
   their enter and their leave (flock and mutex, 4 children, 12 connections).
S3 a child killed while holding the lock does not freeze the pool: the child inside accept() (it holds the
   lock) is killed with SIGKILL; the next 8 connections are all served (flock and mutex).
"""

import os
import re
import signal
import socket
import threading
import time

from grading.harness import Assignment, Fail, Program, Stage

PROBE_ENV = {"PREFORK_ACCEPT_PROBE": "1"}
PROBE_LINE = re.compile(r"^accept (enter|leave) (\S+)\s*$", re.M)
COUNTS = [1, 4000, 65536, 100000, 1048576, 17, 999999, 2500]


def start_pool(t, mode, children=4, probe=False):
    t.step(f"start the pool: {children} children, --mode {mode}" + (" with PREFORK_ACCEPT_PROBE=1" if probe else ""))
    srv = t.start("server", [str(children), "--mode", mode], port=True, env=PROBE_ENV if probe else None)
    t.repro_with(srv, "   # then e.g. ./client localhost PORT 4 20 4000")
    return srv


def read_exact(t, conn, n, what, timeout=10.0):
    """Reads exactly n bytes of reply (more may follow only if the server sends too much: checked by the caller)."""
    limit = t.timeout(timeout)
    deadline = time.monotonic() + limit
    got = len(conn.received)
    chunks = [conn.received]
    conn.received = b""
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail(f"timed out after {limit:.1f} s: {got} of the {n} bytes of {what}",
                       expected=f"{n} bytes", actual=f"{got} bytes",
                       cause="is every connection accepted (no child stuck waiting for the lock forever) and "
                             "served to the end?")
        conn.sock.settimeout(left)
        try:
            data = conn.sock.recv(1 << 20)
        except socket.timeout:
            continue
        except OSError as e:
            raise Fail(f"receiving {what} failed after {got} of {n} bytes: {e}")
        if not data:
            raise Fail(f"the connection was closed after {got} of the {n} bytes of {what}",
                       expected=f"{n} bytes", actual=f"{got} bytes, then the end of the connection",
                       cause="does the child serve the connection it accepted to the end?")
        chunks.append(data)
        got += len(data)
    data = b"".join(chunks)
    conn.received = data[n:]
    return data[:n]


def one_connection(t, port, counts, what):
    conn = t.connect(port, timeout=5.0)
    for count in counts:
        conn.send(f"{count}\n".encode())
        read_exact(t, conn, count, f"the reply to {count} on {what}")
        if conn.received:
            raise Fail(f"more bytes than asked on {what}: {count} asked, at least {count + len(conn.received)} came",
                       expected=f"{count} bytes", actual=f"{count + len(conn.received)} bytes or more")
    conn.sock.shutdown(socket.SHUT_WR)
    rest = conn.recv_all(5.0)
    if rest:
        raise Fail(f"{len(rest)} bytes more than asked on {what}, after its last reply",
                   expected="the end of the connection", actual=rest)
    conn.close()


def load(t, port, connections, at_once, tag):
    """`connections` connections, `at_once` at a time, each asking two counts; any failure fails the stage."""
    t.step(f"{connections} connections, {at_once} at a time, two requests each: every reply exactly as long as asked")
    errors = []
    lock = threading.Lock()
    next_index = [0]

    def worker():
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= connections or errors:
                return
            counts = [COUNTS[i % len(COUNTS)], COUNTS[(i * 3 + 1) % len(COUNTS)]]
            try:
                one_connection(t, port, counts, f"connection {i + 1} ({tag})")
            except Fail as e:
                with lock:
                    errors.append(e)
            except OSError as e:
                with lock:
                    errors.append(Fail(f"connection {i + 1} ({tag}): {e}",
                                       cause="is the server still listening, its children alive?"))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(at_once)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(t.timeout(60))
    if errors:
        raise errors[0]
    if any(th.is_alive() for th in threads):
        t.fail("timed out: connections still not served after 60 s")


def s1_bytes(t, modes=("flock", "mutex"), children=4, connections=24, at_once=6):
    for mode in modes:
        srv = start_pool(t, mode, children)
        load(t, srv.port, connections, at_once, f"--mode {mode}")
        t.expect(srv.running(), expected="the server still running", actual=srv.describe_rc())
        srv.signal(signal.SIGTERM)
        srv.wait_exit(10.0, what="the server to stop after SIGTERM")


def probe_events(srv, since=0):
    return [(m.group(1), m.group(2)) for m in PROBE_LINE.finditer(srv.output[since:])]


def check_one_inside(t, events, mode):
    inside = []
    shown = []
    for kind, who in events:
        shown.append(f"accept {kind} {who}")
        if kind == "enter":
            inside.append(who)
            if len(inside) > 1:
                t.fail(f"--mode {mode}: {len(inside)} workers inside accept() at once ({', '.join(inside)}); the "
                       f"probe's lines up to there:\n  " + "\n  ".join(shown[-12:]),
                       cause="does every child take the lock before accept() and release it only after "
                             "accept() returns? (flock: F_SETLKW on a file all children share; mutex: a "
                             "pthread mutex in MAP_SHARED memory, PTHREAD_PROCESS_SHARED)")
        elif who in inside:
            inside.remove(who)


def s2_one_inside(t, modes=("flock", "mutex"), children=4, connections=12, at_once=3):
    for mode in modes:
        srv = start_pool(t, mode, children, probe=True)
        if mode != "hybrid":  # a hybrid thread holding both locks waits in poll() before it accepts
            t.step("wait for the probe's first `accept enter ID` line")
            srv.wait_output(r"(?m)^accept enter \S+", 5.0, what="the probe line `accept enter ID`", since=0)
        time.sleep(t.timeout(0.5))  # every child has started and waits (for the lock, or in accept)
        load(t, srv.port, connections, at_once, f"--mode {mode}")
        time.sleep(t.timeout(0.3))
        events = probe_events(srv)
        t.step(f"read the probe's lines in order ({len(events)} lines): never two workers inside accept() at once")
        enters = sum(1 for kind, _ in events if kind == "enter")
        t.expect(enters >= connections, expected=f"at least {connections} `accept enter` lines (one per accept)",
                 actual=f"{enters}", cause="is the probe written right before every accept() "
                                           "(PREFORK_ACCEPT_PROBE=1, README)?")
        check_one_inside(t, events, mode)
        srv.signal(signal.SIGTERM)
        srv.wait_exit(10.0, what="the server to stop after SIGTERM")


def holder(srv, since=0):
    """The worker inside accept() now (the one holding the lock), by the probe's lines; None if none."""
    inside = []
    for kind, who in probe_events(srv, since):
        if kind == "enter":
            inside.append(who)
        elif who in inside:
            inside.remove(who)
    return inside[-1] if inside else None


def s3_killed_holder(t, modes=("flock", "mutex"), children=4, kills=1, connections=8):
    for mode in modes:
        srv = start_pool(t, mode, children, probe=True)
        for k in range(kills):
            t.step("wait until a child is inside accept() (it holds the lock): the probe's last `accept enter ID`")
            t.wait_until(lambda: holder(srv) is not None, 5.0, what="a child inside accept() (probe line)")
            time.sleep(t.timeout(0.2))
            who = holder(srv)
            pid = int(who.split(".")[0])
            mark = srv.mark()
            t.step(f"kill -9 {pid}, the child holding the lock (inside accept())")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as e:
                t.fail(f"could not kill the lock holder {pid}: {e}")
            t.step("the pool goes on: the next child takes the lock and accepts")
            t.wait_until(lambda: holder(srv, mark) is not None or not srv.running(), 5.0,
                         what="another child inside accept() after the holder was killed",
                         cause="a child killed while holding the lock freezes the pool: a pthread mutex must "
                               "be PTHREAD_MUTEX_ROBUST, and the next pthread_mutex_lock's EOWNERDEAD answered "
                               "with pthread_mutex_consistent (an fcntl lock the kernel releases by itself)")
            load(t, srv.port, connections, 2, f"--mode {mode}, after the lock holder was killed")
        t.expect(srv.running(), expected="the server still running", actual=srv.describe_rc())
        srv.signal(signal.SIGTERM)
        srv.wait_exit(10.0, what="the server to stop after SIGTERM")


ASSIGNMENT = Assignment(
    id="04.1", lab="04_prefork", title="the accept lock around accept() in the preforked pool",
    programs={"server": Program("./server", port="positional")},
    stages=[Stage("the load client's bytes, exact for every connection", 10, s1_bytes, timeout=90),
            Stage("one child at a time inside accept()", 10, s2_one_inside, timeout=60),
            Stage("a child killed holding the lock does not freeze the pool", 10, s3_killed_holder, timeout=60)],
)
