#!/usr/bin/env python3
"""Known bad (08.2, must fail S1 "-c thread-pool"): -c thread-pool is accepted but starts a thread per
connection, with no pool: with more clients than any pool would have, its threads grow with them.
Derived from grading/reference/http_server.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import http_server  # noqa: E402

parse_args = http_server.parse_args


def parse_args_with_pool():
    # WRONG: "thread-pool" is taken for "thread", a thread per connection
    argv = ["thread" if a == "thread-pool" else a for a in sys.argv[1:]]
    sys.argv[1:] = argv
    return parse_args()


http_server.parse_args = parse_args_with_pool

if __name__ == "__main__":
    sys.exit(http_server.main())
