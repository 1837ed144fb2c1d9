"""02.1 (lecture 32, "n Handler Threads for m Client Requests"): the manager of 02_mtnserver/server.

What the README's spec fixes, and so all the stages rely on: `server PORT N M` listens on PORT, serves exactly
M requests with N handler threads (never more than N + 1 threads: the handlers and the main thread, which is
the manager), then exits 0 by itself. A request is one connection: the client sends a line (its message) and
the server closes the connection once a handler has taken the message, and prints the message (anywhere in a
line). A client beyond the M-th is never served: it is reset or refused. Ctrl-C (SIGINT): no new client is
taken, a client already accepted may still send its message (a grace period of a few seconds), then exit 0.

Black-box: the grader plays the clients over TCP as 02_mtnserver/client does; it reads the exit status, /proc
(threads, descriptors) and whether the messages it sent appear in the output, nothing else of the output.

S1 exactly m served: N=3, M=7, clients one after another, then a burst of M + 2 clients for N=2, M=5.
S2 never more than n at once: N=3 handlers held by idle clients, more clients waiting; threads sampled
   from /proc all along, at most N + 1.
S3 Ctrl-C keeps accepted requests: two accepted clients still send after SIGINT and are served; exit 0.
"""

import signal
import socket
import threading
import time
import uuid

from grading.harness import Assignment, Program, Stage

SERVED, RESET, OPEN = "served", "reset", "still open"


class Client:
    """One request of the lab's protocol: connect, (later) send the message and a newline, shut down the
    sending side, then wait for the server to close (served) or reset (not served)."""

    def __init__(self, t, port, message):
        self.t = t
        self.message = message
        self.sock = None
        self.refused = False
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=t.timeout(3.0))
        except OSError:
            self.refused = True
        t.log(f"[grader] client {message}: " + ("refused" if self.refused else "connected"))

    def send(self):
        if self.sock is None:
            return
        try:
            self.sock.sendall(self.message.encode() + b"\n")
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def outcome(self, timeout):
        """SERVED (a clean end of stream), RESET (reset or refused) or OPEN after `timeout` (scaled)."""
        if self.sock is None:
            return RESET
        self.sock.settimeout(self.t.timeout(timeout))
        try:
            while self.sock.recv(4096):
                pass
            result = SERVED
        except socket.timeout:
            result = OPEN
        except OSError:
            result = RESET
        self.t.log(f"[grader] client {self.message}: {result}")
        return result

    def closed_now(self):
        """True when the server has already closed or reset this connection (nothing sent yet)."""
        if self.sock is None:
            return True
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(1, socket.MSG_PEEK)
            return data == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)

    def close(self):
        if self.sock is not None:
            self.sock.close()


def token(i):
    return f"req{i}-{uuid.uuid4().hex[:8]}"


def start(t, n, m):
    t.step(f"start the server with n = {n} handlers and m = {m} requests (port first on its command line)")
    srv = t.start("server", [str(n), str(m)], port=True)
    t.repro_with(srv, f"   # then ./client localhost {srv.port} --count {m}")
    return srv


def expect_exit(t, srv, after, cause):
    t.step(f"expect the server to exit with status 0 by itself ({after})")
    try:
        rc = srv.wait_exit(3.0)
    except Exception:
        t.fail(f"the server was still running {t.timeout(3.0):g} s after {after}", cause=cause)
    t.expect_eq(rc, 0, what="the server's exit status", cause=None if rc != 1 else "a stub or an error: see the "
                "output's tail")


def settled(t, srv, n):
    """The server's descriptors once its n handlers are up (threads seen in /proc): the count to compare with
    once clients are accepted."""
    t.wait_until(lambda: srv.threads() >= n + 1 or not srv.running(), 3.0,
                 what=f"{n} handler threads besides the main thread (/proc/PID/status)",
                 cause="are the n handler threads started at once, before any client comes?")
    if not srv.running():
        t.fail(f"the server exited before any client came ({srv.describe_rc()})",
               cause="a stub or an error: see the output's tail")
    return srv.fds()


def wait_accepted(t, srv, before, count, who):
    t.wait_until(lambda: srv.fds() >= before + count or not srv.running(), 3.0,
                 what=f"{who} accepted (the server's descriptors in /proc/PID/fd: {before} + {count})",
                 cause="does every one of the n handlers wait in accept() on the listening socket?")
    if not srv.running():
        t.fail(f"the server exited while {who} connected ({srv.describe_rc()})")


def s1_exactly_m(t):
    n, m = 3, 7
    srv = start(t, n, m)
    messages = [token(i + 1) for i in range(m)]
    for i, message in enumerate(messages):
        t.step(f"client {i + 1} of {m} sends {message} and waits for the server to close (its request taken)")
        c = Client(t, srv.port, message)
        c.send()
        result = c.outcome(3.0)
        c.close()
        t.expect(result == SERVED, expected=f"request {i + 1} served (the connection closed after the message)",
                 actual=f"{result}; the server is {'running' if srv.running() else srv.describe_rc()}",
                 cause="is every finished handler joined and restarted while fewer than m were started?")
    expect_exit(t, srv, f"the {m}-th request, with {n} handlers",
                cause="a manager that restarts a handler whenever cnt < m starts more than m handlers: the "
                      "extra ones wait in accept() forever. Restart only while fewer than m threads were "
                      "started (the slide's cnt <= mrq - nbr)")
    for message in messages:
        seen = srv.output.count(message)
        t.expect(seen == 1, expected=f"the message {message} printed once", actual=f"printed {seen} times",
                 cause="does each handler print the message it received?")

    n, m, extra = 2, 5, 2
    srv = start(t, n, m)
    t.step(f"a burst: {m + extra} clients connect at once and send their messages; exactly {m} must be "
           f"served, the other {extra} reset or refused, and the server must exit 0")
    clients = [Client(t, srv.port, token(i + 1)) for i in range(m + extra)]
    for c in clients:
        c.send()
    results = {}

    def wait_one(c):
        results[c.message] = c.outcome(5.0)

    waiters = [threading.Thread(target=wait_one, args=(c,)) for c in clients]
    for w in waiters:
        w.start()
    for w in waiters:
        w.join()
    for c in clients:
        c.close()
    # A clean end of stream alone is no proof of service: a client still in the backlog when the server exits,
    # whose message had not arrived yet, is closed with a FIN rather than a reset. Served: a clean end of
    # stream and the message printed by the server (given up to 2 s to print it).
    def printed(msg):
        deadline = time.monotonic() + t.timeout(2.0)
        while msg not in srv.output and time.monotonic() < deadline:
            time.sleep(0.02)
        return msg in srv.output

    served = [msg for msg, r in results.items() if r == SERVED and printed(msg)]
    still_open = [msg for msg, r in results.items() if r == OPEN]
    t.expect(not still_open, expected=f"every client served or reset within {t.timeout(5.0):g} s",
             actual=f"{len(still_open)} connection(s) still open",
             cause="the server must exit after the m-th request (closing its listening socket resets the "
                   "clients left in the backlog): are too many handlers restarted?")
    t.expect(len(served) == m, expected=f"exactly {m} of the {m + extra} clients served",
             actual=f"{len(served)} served", cause="restart a handler only while fewer than m threads were "
             "started: exactly m handler threads, each taking one request")
    expect_exit(t, srv, f"the {m}-th request of a burst", cause="are the handlers that did not get a client "
                "(none, if exactly m were started) left waiting?")
    for msg in served:
        t.expect(msg in srv.output, expected=f"the served message {msg} printed", actual="not in the output",
                 cause="does each handler print the message it received?")


class ThreadSampler:
    """Samples the server's thread count from /proc every 5 ms in a background thread; keeps the maximum."""

    def __init__(self, srv):
        self.srv = srv
        self.most = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            if self.srv.running():
                self.most = max(self.most, self.srv.threads())
            time.sleep(0.005)

    def finish(self):
        self.stop.set()
        self.thread.join()
        return self.most


def s2_at_most_n(t):
    n, m = 3, 6
    srv = start(t, n, m)
    sampler = ThreadSampler(srv)
    try:
        before = settled(t, srv, n)
        t.step(f"{n} clients connect and send nothing: all {n} handlers hold one each")
        held = [Client(t, srv.port, token(i + 1)) for i in range(n)]
        wait_accepted(t, srv, before, n, f"{n} idle clients")
        t.step("2 more clients connect and send nothing: they must wait (every handler is busy)")
        waiting = [Client(t, srv.port, token(n + i + 1)) for i in range(2)]
        time.sleep(0.3)  # a window for a wrong manager to start extra threads: the sampler looks all along
        t.expect(srv.fds() == before + n, expected=f"still {n} clients accepted (one per handler)",
                 actual=f"{srv.fds() - before} accepted", cause="are more than n handlers waiting in accept()?")
        for i, c in enumerate(held):
            t.step(f"held client {i + 1} sends its message: its handler is retired and restarted, and takes a "
                   "waiting client")
            c.send()
            t.expect(c.outcome(3.0) == SERVED, expected="served", actual="not served",
                     cause="is the finished handler joined and restarted at once?")
        wait_accepted(t, srv, before, 2, "the 2 waiting clients")
        t.step("the 2 waiting clients send, then a last client: m = 6 requests in all")
        for c in waiting:
            c.send()
            t.expect(c.outcome(3.0) == SERVED, expected="served", actual="not served",
                     cause="is every finished handler restarted while fewer than m were started?")
        last = Client(t, srv.port, token(m))
        last.send()
        t.expect(last.outcome(3.0) == SERVED, expected="the 6th request served", actual="not served")
        expect_exit(t, srv, "the 6th request", cause="exactly m handler threads must be started")
    finally:
        most = sampler.finish()
    t.step(f"the most threads seen in /proc/PID/status all along: at most n + 1 = {n + 1}")
    t.expect(most <= n + 1, expected=f"at most {n + 1} threads ({n} handlers and the main thread)",
             actual=f"{most} threads at one time",
             cause="is the finished thread joined before its replacement starts (restart in place, never add)? "
                   "Are handlers started for requests beyond the n at once?")
    t.expect(most >= n + 1, expected=f"{n} handler threads besides the main thread", actual=f"{most} threads",
             cause="are the n handlers threads of the server's process?")


def s3_ctrl_c(t):
    n, m = 3, 10
    srv = start(t, n, m)
    before = settled(t, srv, n)
    t.step("2 clients connect and send nothing yet: their handlers have accepted them")
    a, b = Client(t, srv.port, token(1)), Client(t, srv.port, token(2))
    wait_accepted(t, srv, before, 2, "2 idle clients")
    t.step("Ctrl-C (SIGINT) the server")
    srv.signal(signal.SIGINT)
    t.repro_with(srv, "   # two ./client at their prompt, Ctrl-C the server, then type their messages")
    time.sleep(0.3)  # what is judged: the accepted connections are not dropped in this window
    for c in (a, b):
        t.expect(not c.closed_now(), expected="an accepted client's connection still open after Ctrl-C",
                 actual="closed by the server before the client sent its message",
                 cause="on Ctrl-C only the handlers waiting in accept() stop; a handler that accepted a client "
                       "still takes its message (a grace period). Is the process killed by the signal?")
    t.step("a new client after Ctrl-C: it must not be served")
    late = Client(t, srv.port, token(3))
    late.send()
    t.step("the 2 accepted clients send their messages now: both must be served")
    for c in (a, b):
        c.send()
        result = c.outcome(3.0)
        t.expect(result == SERVED, expected="served (closed after its message)", actual=result,
                 cause="does a handler that accepted a client wait for its message after Ctrl-C?")
    expect_exit(t, srv, "Ctrl-C and the 2 accepted requests", cause="after Ctrl-C no handler may be restarted, "
                "and the manager must join every handler (those in accept() must wake: a stop pipe)")
    late_result = late.outcome(2.0)
    t.expect(late_result != SERVED and late.message not in srv.output, expected="the client after Ctrl-C not served",
             actual=late_result, cause="no handler is restarted after Ctrl-C")
    for c in (a, b):
        t.expect(c.message in srv.output, expected=f"the message {c.message} printed", actual="not in the output",
                 cause="the request accepted before Ctrl-C must still be handled")


ASSIGNMENT = Assignment(
    id="02.1", lab="02_mtnserver", title="the manager: n handler threads restarted for exactly m requests",
    programs={"server": Program("./server", port="positional")},
    stages=[Stage("exactly m requests served", 20, s1_exactly_m, san=True, timeout=60),
            Stage("never more than n handlers at once", 15, s2_at_most_n, timeout=40),
            Stage("Ctrl-C keeps the accepted requests", 15, s3_ctrl_c, san=True, timeout=40)],
)
