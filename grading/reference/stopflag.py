"""A minimal stopflag (assignment 01.1) in Python, written for the grader's tests: any language passes the
stages through SERVER= (`make grade LAB=01.1 SERVER="python3 grading/reference/stopflag.py"`).

Thread 0 (the main thread here) asks whether to continue; two threads busy-wait on a shared flag (an Event);
`n` or the end of the input sets it, and every thread stops."""

import sys
import threading
import time

stop = threading.Event()


def busy_wait(ident):
    print(f"thread {ident} busy waits on the shared flag", flush=True)
    checks = 0
    while not stop.is_set():
        checks += 1
        time.sleep(0.01)
    print(f"thread {ident} stops after {checks} checks", flush=True)


def main():
    waiters = [threading.Thread(target=busy_wait, args=(i,)) for i in (1, 2)]
    for w in waiters:
        w.start()
    while True:
        print("continue ? (y/n) ", end="", flush=True)
        answer = sys.stdin.readline()
        if not answer or answer.strip() == "n":
            break
    stop.set()
    for w in waiters:
        w.join()
    print("all threads stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
