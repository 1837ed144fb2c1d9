"""07.2, instructor-only stages (HIDDEN=1): more clients while the server is stopped, other sizes. Never in the
handout."""

from grading.assignments.a07_1_epoll import s1_echo, s2_slow_reader
from grading.assignments.a07_2_epoll_et import s1_while_stopped
from grading.harness import Stage

STAGES = [
    Stage("30 clients of ~150 kB while the server was stopped", 10,
          lambda t: s1_while_stopped(t, clients=30, size=150000, seed=181), san=True),
    Stage("50 clients echoed byte for byte", 10, lambda t: s1_echo(t, clients=50, size=60000, seed=182,
                                                                   mode="epoll-et"), san=True),
    Stage("a client that never reads, 12 others", 10,
          lambda t: s2_slow_reader(t, others=12, size=99991, seed=183, mode="epoll-et"), san=True),
]
