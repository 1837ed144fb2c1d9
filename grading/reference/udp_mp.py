#!/usr/bin/env python3
"""A minimal 03_udp_mp server in Python (assignments 03.1 and 03.2), written for the grader's tests: it must
score full marks through SERVER=, so the any-language promise is tested, not claimed.

`udp_mp.py PORT [--mode iterative|fork] [--square] [--delay-ms MS]`: with --mode fork a child process per
datagram sends the reply, naming its own PID; the parent reaps the children as SIGCHLD says they ended. With
--square the reply to a number is its square, anything else `error: ...`.
"""

import argparse
import os
import signal
import socket
import time


def reap(signum, frame):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--mode", choices=["iterative", "fork"], default="iterative")
    parser.add_argument("--square", action="store_true")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("", args.port))
    signal.signal(signal.SIGCHLD, reap)

    def reply(data, client):
        time.sleep(args.delay_ms / 1000)
        if args.square:
            try:
                return str(int(data.decode("ascii").strip()) ** 2).encode()
            except (UnicodeDecodeError, ValueError):
                return b"error: not a number"
        return f"Hi {client[0]}:{client[1]}. This is server {os.getpid()}".encode()

    while True:
        data, client = sock.recvfrom(65536)
        if not data:
            continue
        if args.mode == "iterative":
            sock.sendto(reply(data, client), client)
        elif os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            sock.sendto(reply(data, client), client)
            os._exit(0)


if __name__ == "__main__":
    main()
