"""Instructor-only stages of 02.1 (`make grade HIDDEN=1`): one handler, fewer requests than handlers, and a
slow client that must not hold up the other handler."""

from grading.assignments.a02_1_manager import SERVED, Client, expect_exit, settled, start, token, wait_accepted
from grading.harness import Stage


def h1_one_handler(t):
    n, m = 1, 5
    srv = start(t, n, m)
    for i in range(m):
        t.step(f"client {i + 1} of {m}, the only handler restarted each time")
        c = Client(t, srv.port, token(i + 1))
        c.send()
        t.expect(c.outcome(3.0) == SERVED, expected="served", actual="not served",
                 cause="is the one handler restarted after each request?")
        c.close()
    expect_exit(t, srv, f"the {m}-th request with 1 handler", cause="exactly m handler threads in all")


def h2_fewer_requests(t):
    n, m = 4, 2
    srv = start(t, n, m)
    t.step("m = 2 < n = 4: two requests, then the server must exit (no handler left in accept)")
    for i in range(m):
        c = Client(t, srv.port, token(i + 1))
        c.send()
        t.expect(c.outcome(3.0) == SERVED, expected="served", actual="not served")
        c.close()
    expect_exit(t, srv, "2 requests with 4 handlers asked for",
                cause="with m < n only m handlers may start: the others would wait in accept() forever")


def h3_slow_client(t):
    n, m = 2, 5
    srv = start(t, n, m)
    before = settled(t, srv, n)
    t.step("a slow client holds one handler; the other, restarted after each request, serves 3 more")
    slow = Client(t, srv.port, token(0))
    wait_accepted(t, srv, before, 1, "the slow client")
    for i in range(3):
        c = Client(t, srv.port, token(i + 1))
        c.send()
        t.expect(c.outcome(3.0) == SERVED, expected="served meanwhile", actual="not served",
                 cause="does the manager wait for one particular handler (join in slot order) instead of "
                       "whichever finished first?")
        c.close()
    slow.send()
    t.expect(slow.outcome(3.0) == SERVED, expected="the slow client served", actual="not served")
    last = Client(t, srv.port, token(5))
    last.send()
    t.expect(last.outcome(3.0) == SERVED, expected="the 5th request served", actual="not served")
    expect_exit(t, srv, "the 5th request", cause="exactly m handler threads in all")


STAGES = [Stage("one handler restarted m times", 5, h1_one_handler, timeout=30),
          Stage("fewer requests than handlers", 5, h2_fewer_requests, timeout=30),
          Stage("a slow client holds only its own handler", 5, h3_slow_client, timeout=30)]
