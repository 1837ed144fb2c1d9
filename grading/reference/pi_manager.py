#!/usr/bin/env python3
"""A minimal 10_pi_montecarlo manager in Python (assignment 10.1), written for the grader's tests: it must score
full marks through SERVER= (with the kit's worker), so the any-language promise is tested, not claimed.

`pi_manager.py PORT NWORKERS [--jobs J] [--samples S] [--seed X]`: waits for NWORKERS workers (HELLO pi 1), a
thread each hands out the (samples, seed) tuples of the job queue, prints each result as it arrives, puts a
lost worker's job back, says BYE when every job is done and prints the estimate. With the environment's
PI_RESULTS_AT_THE_END=1 it prints the results only at the end (a known-bad variant: grading/known_bad/MATRIX).
"""

import argparse
import collections
import os
import socket
import threading


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("nworkers", type=int, nargs="?", default=2)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    at_the_end = os.environ.get("PI_RESULTS_AT_THE_END") == "1"
    queue = collections.deque((j, args.samples, args.seed + j) for j in range(args.jobs))
    done, later = {}, []
    changed = threading.Condition()

    listener = socket.create_server(("", args.port))
    workers = []
    while len(workers) < args.nworkers:
        conn, _ = listener.accept()
        stream = conn.makefile("rw")
        if stream.readline().strip() == "HELLO pi 1":
            workers.append((conn, stream))
        else:
            conn.close()

    def hand_out(stream):
        while True:
            with changed:
                while not queue and len(done) < args.jobs:
                    changed.wait()
                if len(done) == args.jobs:
                    break
                job = queue.popleft()
            try:
                stream.write("JOB %d %d %d\n" % job)
                stream.flush()
                words = stream.readline().split()
                if len(words) != 4 or words[0] != "RESULT" or int(words[1]) != job[0]:
                    raise ValueError(words)
                inside = int(words[3])
            except (OSError, ValueError):  # lost: the job goes back to the queue
                with changed:
                    queue.appendleft(job)
                    changed.notify_all()
                return
            with changed:
                done[job[0]] = inside
                line = f"job {job[0]} (seed {job[2]}): {inside} of {job[1]} inside"
                later.append(line) if at_the_end else print(line, flush=True)
                changed.notify_all()
        try:
            stream.write("BYE\n")
            stream.flush()
        except OSError:
            pass

    threads = [threading.Thread(target=hand_out, args=(stream,)) for _, stream in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for line in later:
        print(line)
    if len(done) < args.jobs:
        raise SystemExit(f"no worker left: {args.jobs - len(done)} jobs not done")
    print(f"pi is about {4 * sum(done.values()) / (args.samples * args.jobs):.10f}", flush=True)


if __name__ == "__main__":
    main()
