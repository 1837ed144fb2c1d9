"""Instructor-only stages of 05.1 (`make grade HIDDEN=1`): an array of one slot, and Ctrl-C while it is full."""

import signal
import socket
import time

from grading.assignments.a05_1_array import load, request, start, stop
from grading.harness import Stage


def h1_one_slot(t):
    srv = start(t, 3, 1)
    t.step("an array of 1 slot, 10 clients at once: the main thread waits nearly every time")
    problems = load(t, srv, clients=10, sizes=(5000, 7, 5000))
    t.expect(not problems, expected="every reply exact", actual="; ".join(problems[:4]),
             cause="with one slot iput and iget meet at every put: is the full test count_ == size?")
    stop(t, srv)


def h2_stop_while_full(t):
    srv = start(t, 1, 1)
    limit = t.timeout(5.0)
    t.step("A holds the only thread; B fills the array; C makes the main thread wait; then Ctrl-C")
    a = socket.create_connection(("127.0.0.1", srv.port), timeout=limit)
    t.expect(request(a, 1, limit) == 1, expected="A answered", actual="no reply")
    others = [socket.create_connection(("127.0.0.1", srv.port), timeout=limit) for _ in range(2)]
    for s in others:
        s.sendall(b"10\n")
    time.sleep(0.3)
    srv.signal(signal.SIGINT)
    rc = srv.wait_exit(5.0, what="the server to exit after SIGINT with the array full")
    t.expect_eq(rc, 0, what="the exit status", cause="does close() wake the main thread waiting in put()?")
    for s in [a] + others:
        s.close()


STAGES = [Stage("an array of one slot", 5, h1_one_slot, timeout=40),
          Stage("Ctrl-C while the array is full", 5, h2_stop_while_full, timeout=30)]
