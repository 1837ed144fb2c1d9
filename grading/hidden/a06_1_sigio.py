"""Instructor-only stages of 06.1 (`make grade HIDDEN=1`): more clients, bigger messages, a bigger overflow."""

from grading.assignments.a06_1_sigio import echo_clients, overflow, s3_signal_safe, start_server
from grading.harness import Stage


def h1_many_clients(t):
    srv = start_server(t)
    echo_clients(t, srv, clients=30, messages=3, sizes=(1, 70000, 300000))
    t.expect(srv.running(), expected="the server still running", actual=srv.describe_rc())


def h2_big_overflow(t):
    srv = start_server(t, sigpending=2)
    overflow(t, srv, clients=40)
    t.expect(srv.running(), expected="the server still running", actual=srv.describe_rc())


def h3_signal_safe_under_load(t):
    s3_signal_safe(t, clients=20, overflow_clients=30)


STAGES = [
    Stage("30 clients, messages up to 300 KB", 10, h1_many_clients, timeout=90),
    Stage("40 clients over a 2-signal realtime queue", 10, h2_big_overflow, timeout=90),
    Stage("nothing unsafe in a handler, 50 clients", 10, h3_signal_safe_under_load, timeout=120),
]
