"""Instructor-only stages of 03.1 (`make grade HIDDEN=1`): more requests at once, another delay."""

from grading.assignments.a03_1_pid import s2_distinct, s3_at_once
from grading.harness import Stage


def h1_burst(t):
    s2_distinct(t, sequential=3, parallel=20)


def h2_six_at_once(t):
    s3_at_once(t, clients=6, delay_ms=1000)


STAGES = [
    Stage("20 requests at once, 20 processes", 10, h1_burst),
    Stage("6 slow requests served at once", 10, h2_six_at_once),
]
