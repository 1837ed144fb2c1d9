"""08.1, instructor-only stages (HIDDEN=1): the public stages with other files, counts, orders and timing.
Never in the handout."""
from grading.assignments import a08_1_http as public
from grading.harness import Stage


def h1_files(t):
    # another site (an odd-sized large file), and traversal spelled other ways
    public.s1_files(t, big_size=(9 << 20) + 4093, seed=1508,
                    extra_outside=["/./../secret.txt", "/sub/..%2f..%2fsecret.txt", "/%2E%2e/secret.txt",
                                   "/sub/deeper/%2e%2e/%2e%2e/%2e%2e/secret.txt", "/../www/../secret.txt"])


def h2_threads(t):
    # three idle clients, requests in a scrambled order, more clients counted and at once
    public.concurrency_stage(t, "thread", idle_count=3, reversed_n=6, order=[2, 5, 0, 4, 1, 3], count_n=12,
                             overlap_n=16, seed=1509)


def h3_processes(t):
    public.concurrency_stage(t, "process", idle_count=2, reversed_n=5, order=[1, 4, 0, 3, 2], count_n=9,
                             overlap_n=12, seed=1510)


def h4_ctrl_c(t):
    # more requests in flight, one of them a large file
    public.ctrl_c_check(t, "process", in_flight=5, target="/big.bin", seed=1511, big_size=6 << 20)
    public.ctrl_c_check(t, "thread", in_flight=6, target="/big.bin", seed=1512, big_size=6 << 20)


STAGES = [
    Stage("other files, other traversals", 10, h1_files),
    Stage("-c thread, other counts and order", 10, h2_threads, san=True),
    Stage("-c process, other counts and order", 10, h3_processes, san=True),
    Stage("Ctrl-C, large files in flight", 10, h4_ctrl_c, san=True),
]
