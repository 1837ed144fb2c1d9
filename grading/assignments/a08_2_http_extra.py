"""08.2: the extra credit of the lab handout's HTTP server: -c thread-pool, -c process-pool, -c async.

Graded black-box like 08.1 (grading/assignments/a08_1_http.py, whose helpers this uses): only the command line,
HTTP and /proc. For each mode, with -d (the handout's delay) more clients than a pool would have at once must
be served at the same time (well before one after another would take), and the server's threads and
processes, sampled from /proc while it serves them, must stay bounded: a pool does not grow a thread or a
process per client, an event loop not at all.

Stages (each on its own: the handout gives 5% for each of the three):
  S1 -c thread-pool: bounded threads, concurrency shown with -d
  S2 -c process-pool: bounded processes, concurrency shown with -d
  S3 -c async: no thread or process per client, idle clients block no one, concurrency shown with -d
"""
from grading.assignments.a08_1_http import (Site, check_alive, counts, idle_peer_check, measure_delay,
                                            out_of_order_check, overlap_check, start, wait_until)
from grading.harness import Assignment, Program, Stage


def pool_stage(t, mode, clients=16, seed=82):
    site = Site(t, big_size=1 << 16, seed=seed)
    srv = start(t, site, mode, delay=True)
    t.repro_with(srv, f" &  for i in $(seq {clients}); do curl -s -o /dev/null http://localhost:{srv.port}/img.bin & "
                      f"done; time wait   (and watch: ps -L -g $!)")
    delay = measure_delay(t, srv, site)
    base_procs, base_threads, _ = counts(srv)  # once a request has been served: the pool is up
    if mode == "async":
        idle_peer_check(t, srv, mode, idle_count=2, delay=delay)
        out_of_order_check(t, srv, mode, 3, delay=delay)
    peak_procs, peak_threads = overlap_check(t, srv, site, clients, delay, bound_fraction=0.5, kind=mode)
    t.step(f"the server's processes and threads while it served {clients} clients at once: {peak_procs} and "
           f"{peak_threads} at most, {base_procs} and {base_threads} before")
    limit = clients * 3 // 4
    grown_threads, grown_procs = peak_threads - base_threads, peak_procs - base_procs
    if mode == "thread-pool":
        t.expect(grown_threads < limit,
                 message=f"the threads grew with the clients: {grown_threads} more for {clients}",
                 expected=f"fewer than {limit} threads more than before, for {clients} clients",
                 actual=f"{grown_threads} more ({base_threads} before, {peak_threads} at most while serving)",
                 cause="a thread pool starts a fixed number of threads once and hands them the connections "
                       "(a queue); is a thread started for each client instead?")
        t.expect(peak_threads >= 2, message="no thread of a pool seen",
                 expected="worker threads besides the main one", actual=f"{peak_threads} thread",
                 cause="is -c thread-pool serving from threads of a pool?")
        t.expect(grown_procs == 0, message="-c thread-pool started processes",
                 expected="no new process", actual=f"{grown_procs} more processes",
                 cause="-c thread-pool serves from threads, not processes")
    elif mode == "process-pool":
        t.expect(grown_procs < limit,
                 message=f"the processes grew with the clients: {grown_procs} more for {clients}",
                 expected=f"fewer than {limit} processes more than before, for {clients} clients",
                 actual=f"{grown_procs} more ({base_procs} before, {peak_procs} at most while serving)",
                 cause="a process pool forks a fixed number of workers once, each accepting from the shared "
                       "listening socket (or fed by the parent); is a process forked for each client instead?")
        t.expect(peak_procs >= 2, message="no worker process of a pool seen",
                 expected="worker processes besides the main one", actual=f"{peak_procs} process",
                 cause="is -c process-pool serving from processes of a pool?")
    else:
        t.expect(grown_threads < limit and grown_procs < limit,
                 message="the threads or processes grew with the clients",
                 expected=f"no thread or process per client ({clients} clients at once)",
                 actual=f"{grown_threads} more threads, {grown_procs} more processes",
                 cause="-c async serves every client from one event loop (asyncio); is it starting a thread or "
                       "a process per client?")
    t.step("the clients are gone: no zombie child left")
    ok = wait_until(t, lambda: counts(srv)[2] == 0, 2.0)
    t.expect(ok, message="zombie children once the clients left", expected="no zombie child",
             actual=f"{counts(srv)[2]} zombies",
             cause="a pool worker that ends (or is replaced) must be reaped")
    check_alive(t, srv, site, f"{clients} clients at once")


def s1_thread_pool(t):
    pool_stage(t, "thread-pool")


def s2_process_pool(t):
    pool_stage(t, "process-pool")


def s3_async(t):
    pool_stage(t, "async")


ASSIGNMENT = Assignment(
    id="08.2", lab="08_webclient", title="the HTTP server's extra credit: thread pool, process pool, async",
    programs={"server": Program("./server", port="-p")},
    stages=[
        Stage("-c thread-pool: bounded, concurrent", 5, s1_thread_pool, san=True, needs=()),
        Stage("-c process-pool: bounded, concurrent", 5, s2_process_pool, san=True, needs=()),
        Stage("-c async: one loop, concurrent", 5, s3_async, san=True, needs=()),
    ],
)
