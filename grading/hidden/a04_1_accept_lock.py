"""Instructor-only stages of 04.1 (`make grade HIDDEN=1`): a bigger pool, the hybrid mode, repeated kills."""

from grading.assignments.a04_1_accept_lock import s1_bytes, s2_one_inside, s3_killed_holder
from grading.harness import Stage


def h1_big_pool(t):
    s1_bytes(t, modes=("flock", "mutex", "hybrid"), children=8, connections=60, at_once=12)


def h2_one_inside_many(t):
    s2_one_inside(t, modes=("flock", "mutex", "hybrid"), children=8, connections=40, at_once=8)


def h3_three_kills(t):
    s3_killed_holder(t, modes=("flock", "mutex"), children=3, kills=3, connections=4)


STAGES = [
    Stage("8 children (and hybrid): 60 connections, every byte", 10, h1_big_pool, timeout=120),
    Stage("8 children (and hybrid): one worker inside accept() at a time", 10, h2_one_inside_many, timeout=90),
    Stage("the lock holder killed three times in a row", 10, h3_three_kills, timeout=90),
]
