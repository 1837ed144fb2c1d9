#!/usr/bin/env python3
"""A minimal 01_mtserver `server PORT NCLIENTS --stop` in Python (assignment 01.2), written for the grader's
tests: it must score full marks through SERVER=, so the any-language promise is tested, not claimed.

NCLIENTS handler threads each accept one client and read its message (a line); with --stop the message `stop`
writes a byte into a pipe that every handler polls beside its socket, so handlers blocked waiting for a client
or for data wake up too. main joins them all and exits 0.
"""

import argparse
import os
import select
import socket
import threading


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("nclients", type=int)
    parser.add_argument("--stop", action="store_true")
    args = parser.parse_args()
    stop_read, stop_write = os.pipe()
    listener = socket.create_server(("", args.port), backlog=socket.SOMAXCONN)
    listener.setblocking(False)

    def ready(sock):
        """Waits until sock is readable (True) or the stop pipe is (False)."""
        readable, _, _ = select.select([sock, stop_read], [], [])
        return stop_read not in readable

    def handle(name):
        while True:
            if not ready(listener):
                return print(f"{name} stops (no client)", flush=True)
            try:
                client, peer = listener.accept()
                break
            except BlockingIOError:  # another handler took that connection
                continue
        with client:
            message = b""
            while b"\n" not in message:
                if not ready(client):
                    return print(f"{name} stops (no data)", flush=True)
                chunk = client.recv(80)
                if not chunk:
                    break
                message += chunk
        text = message.decode(errors="replace").strip()
        print(f"{name} received {text}", flush=True)
        if args.stop and text == "stop":
            os.write(stop_write, b"x")  # never read: every handler, now or later, sees it

    handlers = [threading.Thread(target=handle, args=(str(i),)) for i in range(args.nclients)]
    for handler in handlers:
        handler.start()
    for handler in handlers:
        handler.join()


if __name__ == "__main__":
    main()
