"""01.2, lecture 32 assignment 2: `server [PORT] NCLIENTS --stop`, one client's `stop` stops every handler.

Black-box: the grader plays the clients itself over TCP, the way 01_mtserver/client does (connect, send the
message and a newline, shut down its side), and watches only the exit status and /proc (the server's
descriptors tell that a connection was accepted). What a handler prints is never read.
"""

import socket
import time

from grading.harness import Assignment, Program, Stage

EXIT_BOUND = 2.0  # seconds for the server to exit once the stop message is sent (x TIMEOUT_SCALE, x3 SAN)


def connect(t, srv, name):
    """A client of the lab's protocol (the harness closes it when the stage ends)."""
    conn = t.connect(srv.port, timeout=5.0)
    conn.name = name
    return conn


def say(conn, message):
    """What `./client --message TEXT` does: the message and a newline, then shutdown(SHUT_WR)."""
    try:
        conn.send(message.encode() + b"\n")
        conn.sock.shutdown(socket.SHUT_WR)
    except Exception:  # the server may have closed already: the stage judges by its exit, not by this write
        pass


def closed_by_server(conn, timeout):
    """True when the server closed the connection (EOF or reset) within `timeout` seconds (not scaled)."""
    conn.sock.settimeout(timeout)
    try:
        while conn.sock.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    except OSError:
        return True


def start_server(t, nclients):
    t.step(f"start the server with {nclients} handlers and --stop (the port on its command line)")
    srv = t.start("server", [str(nclients), "--stop"], port=True)
    t.repro_with(srv, f"   # then, in other terminals: ./client localhost {srv.port} --message stop (and idle ones)")
    return srv


def wait_accepted(t, srv, before, count, who):
    """Waits (bounded) until the server holds `count` more descriptors than `before`: the connections are
    accepted by handlers, so those handlers now wait for data, not for a client."""
    deadline = time.monotonic() + t.timeout(3.0)
    while srv.fds() < before + count:
        if not srv_running(srv):
            t.fail(f"the server exited after {who} connected")
        if time.monotonic() > deadline:
            t.fail(f"timed out after {t.timeout(3.0):g} s: {who} connected but the server's descriptors in "
                   f"/proc/PID/fd did not grow ({srv.fds()}, {before} before)",
                   cause="is every handler thread waiting in accept() on the listening socket?")
        time.sleep(0.01)


def expect_exit_zero(t, srv, waiting, cause):
    """The stop message is sent: the server must exit with status 0 within the bound."""
    bound = t.timeout(EXIT_BOUND)
    t.step(f"expect the server to exit with status 0 within {bound:g} s ({waiting})")
    try:
        rc = srv.wait_exit(EXIT_BOUND)  # the harness scales it
    except Exception:  # harness.Fail on time-out: say which handlers kept it alive
        t.fail(f"timed out: the server was still running {bound:g} s after `stop` ({waiting})", cause=cause)
    t.expect_eq(rc, 0, what="the server's exit status after `stop`",
                cause=None if rc != 1 else "a stub or an error: see the output's tail")


def s1_stop_message(t):
    """Two handlers, two clients: `hello` is a message like any other, `stop` then ends the server."""
    srv = start_server(t, 2)
    t.step("client A connects and sends `hello` (a message like any other), then closes its side")
    a = connect(t, srv, "A")
    say(a, "hello")
    t.step("the server closes A's connection once its handler is done with it (EOF within 2 s)")
    closed_by_server(a, t.timeout(2.0))  # a server that keeps it open is allowed: only the exit is judged
    t.expect(srv_running(srv), expected="the server still running after `hello` (1 handler left)",
             actual="it exited", cause="does any message stop the server, or only `stop`?")
    t.step("client B connects and sends `stop`")
    b = connect(t, srv, "B")
    say(b, "stop")
    expect_exit_zero(t, srv, "every handler has had its client", cause="does the server join its handlers "
                     "and exit once they are done?")


def s2_wakes_accept(t):
    """Three handlers, one client: its `stop` wakes the two handlers still blocked in accept()."""
    srv = start_server(t, 3)
    before = srv.fds()
    t.step("client B connects (no other client: two handlers stay blocked in accept)")
    b = connect(t, srv, "B")
    wait_accepted(t, srv, before, 1, "client B")
    t.step("client B sends `stop`")
    say(b, "stop")
    expect_exit_zero(t, srv, "2 handlers were waiting for a client, in accept()",
                     cause="a handler blocked in accept() never sees a flag: wait with poll() on the "
                           "listening socket and a stop pipe (or shut the listening socket down) so that "
                           "`stop` wakes it")


def s3_wakes_recv(t):
    """Four handlers: an idle client, a client half-way through a line, a handler in accept, then `stop`."""
    srv = start_server(t, 4)
    before = srv.fds()
    t.step("client A connects and sends nothing (its handler waits for data)")
    a = connect(t, srv, "A")
    wait_accepted(t, srv, before, 1, "client A")
    t.step("client C connects and sends `hal` without a newline (its handler waits for the rest)")
    c = connect(t, srv, "C")
    c.send(b"hal")
    wait_accepted(t, srv, before, 2, "client C")
    t.step("client B connects and sends `stop` (one handler is still waiting in accept)")
    b = connect(t, srv, "B")
    wait_accepted(t, srv, before, 3, "client B")
    say(b, "stop")
    expect_exit_zero(t, srv, "2 handlers were waiting for data from idle clients A and C, 1 in accept()",
                     cause="a handler blocked in recv() on an idle client never sees a flag: wait with "
                           "poll() on the client socket and the stop pipe (or shut the client sockets down)")
    t.step("clients A and C see their connections closed")
    t.expect(closed_by_server(a, t.timeout(1.0)), expected="A's connection closed", actual="still open")


def srv_running(srv):
    """True while the server's process is alive (neither exited nor a zombie)."""
    if hasattr(srv, "running"):
        return srv.running()
    try:
        with open(f"/proc/{srv.pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


ASSIGNMENT = Assignment(
    id="01.2", lab="01_mtserver", title="--stop: one client's stop stops every handler",
    programs={"server": Program("./server", port="positional")},
    stages=[
        Stage("a stop message ends the server", 10, s1_stop_message, san=True),
        Stage("stop wakes handlers blocked in accept", 20, s2_wakes_accept, san=True),
        Stage("stop wakes handlers waiting for data", 20, s3_wakes_recv, san=True),
    ],
)
