"""09.1, instructor-only stages (HIDDEN=1): other canvases, worker counts and --prefetch, a worker lost after
answering, more workers of uneven speed. Never in the handout."""

from grading.assignments.a09_1_dynamic import s1_same_picture, s2_lost_worker, s3_balance
from grading.harness import Stage


def h1_other_canvas(t):
    s1_same_picture(t, worker_counts=(4, 1), canvas_args=("--width", "333", "--height", "101"))


def h2_lost_with_prefetch_4(t):
    s2_lost_worker(t, prefetch=4, canvas_args=("--width", "97", "--height", "61"))


def h3_lost_after_answering(t):
    s2_lost_worker(t, prefetch=3, canvas_args=("--width", "80", "--height", "50"), answered_first=2)


def h4_balance_wider(t):
    s3_balance(t, width=90, height=20, delay=0.03)


STAGES = [
    Stage("a 333x101 canvas, 4 workers then 1", 10, h1_other_canvas, san=True),
    Stage("a worker lost with 4 columns out (--prefetch 4)", 10, h2_lost_with_prefetch_4, san=True),
    Stage("a worker lost after 2 columns", 10, h3_lost_after_answering, san=True),
    Stage("a wider canvas, a slow and a fast worker", 10, h4_balance_wider, san=True),
]
