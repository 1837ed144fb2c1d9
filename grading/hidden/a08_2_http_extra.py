"""08.2, instructor-only stages (HIDDEN=1): more clients at once than the public stages, other files.
Never in the handout."""
from grading.assignments import a08_2_http_extra as public
from grading.harness import Stage


def h1_thread_pool(t):
    public.pool_stage(t, "thread-pool", clients=24, seed=1521)


def h2_process_pool(t):
    public.pool_stage(t, "process-pool", clients=20, seed=1522)


def h3_async(t):
    public.pool_stage(t, "async", clients=32, seed=1523)


STAGES = [
    Stage("-c thread-pool, 24 clients at once", 5, h1_thread_pool, san=True),
    Stage("-c process-pool, 20 clients at once", 5, h2_process_pool, san=True),
    Stage("-c async, 32 clients at once", 5, h3_async, san=True),
]
