"""Instructor-only stages of 10.1 (`make grade HIDDEN=1`): other jobs, seeds and worker counts, a worker lost
after answering, a worker lost half-way through its RESULT line."""

from grading.assignments.a10_1_pi import s2_independent, s4_as_it_arrives, s5_lost_worker
from grading.harness import Stage


def h1_other_jobs(t):
    s2_independent(t, jobs=9, samples=40000, seed=12345, worker_counts=(4, 1))


def h2_as_it_arrives_more_jobs(t):
    s4_as_it_arrives(t, jobs=7, seed=21)


def h3_lost_after_answering(t):
    s5_lost_worker(t, jobs=8, seed=99, answered_first=2)


def h4_lost_mid_line(t):
    s5_lost_worker(t, jobs=6, seed=5, half_line=True)


STAGES = [
    Stage("other jobs and seeds, 4 workers then 1", 10, h1_other_jobs, san=True),
    Stage("results as they arrive, 7 jobs", 10, h2_as_it_arrives_more_jobs, san=True),
    Stage("a worker lost after 2 results", 10, h3_lost_after_answering, san=True),
    Stage("a worker lost mid-RESULT line", 10, h4_lost_mid_line, san=True),
]
