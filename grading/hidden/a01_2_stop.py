"""Instructor-only stages of 01.2 (`make grade HIDDEN=1`): other handler counts, another order, `stop` in pieces."""

import time

from grading.assignments.a01_2_stop import connect, expect_exit_zero, say, start_server, wait_accepted
from grading.harness import Stage


def h1_stop_sender_first(t):
    """Six handlers: the stop client connects first and speaks last, after two idle clients; three in accept."""
    srv = start_server(t, 6)
    before = srv.fds()
    t.step("client B connects first and sends nothing yet")
    b = connect(t, srv, "B")
    wait_accepted(t, srv, before, 1, "client B")
    for k, name in enumerate(["A", "C"], 2):
        t.step(f"client {name} connects and sends nothing")
        connect(t, srv, name)
        wait_accepted(t, srv, before, k, f"client {name}")
    t.step("client B sends `stop` (2 handlers wait for data, 3 in accept)")
    say(b, "stop")
    expect_exit_zero(t, srv, "2 handlers waited for data, 3 for a client",
                     cause="every handler must be woken, whatever it waits for and in whatever order the "
                           "clients came")


def h2_stop_in_pieces(t):
    """Two handlers: an idle client, and `stop` arriving a byte at a time."""
    srv = start_server(t, 2)
    before = srv.fds()
    t.step("client A connects and sends nothing")
    connect(t, srv, "A")
    wait_accepted(t, srv, before, 1, "client A")
    t.step("client B sends `stop` one byte at a time, then the newline")
    b = connect(t, srv, "B")
    wait_accepted(t, srv, before, 2, "client B")
    for byte in b"stop":
        b.send(bytes([byte]))
        time.sleep(0.05)  # not a wait for readiness: each byte goes out in its own segment
    say(b, "")
    expect_exit_zero(t, srv, "A's handler waited for data",
                     cause="a message is the whole line, however it is split into segments")


STAGES = [
    Stage("stop from the first client, 6 handlers", 10, h1_stop_sender_first, san=True),
    Stage("stop sent a byte at a time", 10, h2_stop_in_pieces, san=True),
]
