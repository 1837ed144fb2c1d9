"""07.1, instructor-only stages (HIDDEN=1): more clients and other sizes, several slow readers, fewer idle
connections with a stricter ratio. Never in the handout."""

from grading.assignments.a07_1_epoll import s1_echo, s2_slow_reader, s3_idle_cost
from grading.harness import Stage


def h1_more_clients(t):
    s1_echo(t, clients=60, size=50000, seed=171)


def h2_slow_reader_more_others(t):
    s2_slow_reader(t, others=15, size=100003, seed=172)


def h3_idle_cost(t):
    s3_idle_cost(t, idle=3000, count=800, ratio=0.5)


STAGES = [
    Stage("60 clients echoed byte for byte", 10, h1_more_clients, san=True),
    Stage("a client that never reads, 15 others", 10, h2_slow_reader_more_others, san=True),
    Stage("3,000 idle connections, 800 messages", 10, h3_idle_cost, timeout=120.0),
]
