#!/usr/bin/env python3
"""Known bad (08.1, must fail S3 "a process per connection"): -c process forks a child per connection but
never waits for one while it serves, so every child that ended stays a zombie until Ctrl-C. The children
and the threads are otherwise the reference's, so S1 and S2 pass.
Derived from grading/reference/http_server.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import http_server  # noqa: E402


class ZombieServer(http_server.Server):
    def reap(self, block):
        if block:  # WRONG: only at the very end; a child that ended while serving is left a zombie
            super().reap(block)


if __name__ == "__main__":
    sys.exit(http_server.main(ZombieServer))
