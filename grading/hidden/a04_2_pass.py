"""Instructor-only stages of 04.2 (`make grade HIDDEN=1`): a bigger pool, every child busy, repeated kills."""

from grading.assignments.a04_2_pass import s1_bytes, s2_child_serves, s3_killed_child
from grading.harness import Stage


def h1_big_pool(t):
    s1_bytes(t, children=8, connections=60, at_once=12)


def h2_every_child_busy(t):
    s2_child_serves(t, children=5, connections=5)


def h3_three_kills(t):
    s3_killed_child(t, children=3, kills=3, connections=4)


STAGES = [
    Stage("8 children: 60 connections, 12 at a time, every byte", 10, h1_big_pool, timeout=120),
    Stage("5 children, 5 connections open: each in its own child, none left in the parent", 10,
          h2_every_child_busy, timeout=60),
    Stage("a serving child killed three times in a row", 10, h3_three_kills, timeout=90),
]
