#!/usr/bin/env python3
"""Known bad (08.1, must fail S2 "a thread per connection"): a serial server. Whatever -c says, it serves
each connection itself in the accept loop, so one client that connects and sends nothing holds up every
other one. Files, HEAD, 404 and the folder check are the reference's, so S1 passes.
Derived from grading/reference/http_server.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import http_server  # noqa: E402


class SerialServer(http_server.Server):
    def start_thread(self, conn):
        http_server.handle(conn, self.args)  # WRONG: no thread, the next accept waits for this client

    start_process = start_thread  # WRONG: no child either


if __name__ == "__main__":
    sys.exit(http_server.main(SerialServer))
