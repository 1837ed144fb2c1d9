#!/usr/bin/env python3
"""Known bad (08.1, must fail S4 "graceful Ctrl-C"): -c thread starts daemon threads and, on Ctrl-C, exits
at once without joining them, so a request in flight (one in its -d delay) is never answered. Serving is
otherwise the reference's, so S1 to S3 pass.
Derived from grading/reference/http_server.py."""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import http_server  # noqa: E402


class NoJoinServer(http_server.Server):
    def start_thread(self, conn):
        # WRONG: a daemon thread nobody joins; the interpreter kills it when main returns
        threading.Thread(target=http_server.handle, args=(conn, self.args), daemon=True).start()


if __name__ == "__main__":
    sys.exit(http_server.main(NoJoinServer))
