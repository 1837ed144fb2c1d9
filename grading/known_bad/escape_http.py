#!/usr/bin/env python3
"""Known bad (08.1, must fail S1 "files, HEAD, 404, never outside the folder"): it joins the request's path
to the folder as it comes, after percent-decoding, so `GET /../secret.txt` and `GET /%2e%2e/secret.txt`
serve a file from outside the folder. Everything else is the reference's.
Derived from grading/reference/http_server.py."""
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import http_server  # noqa: E402


def resolve_naively(folder, target):
    path = urllib.parse.unquote(target.split("?", 1)[0])
    full = folder + path  # WRONG: no check for "..", so the path may climb out of folder
    if os.path.isdir(full):
        full = os.path.join(full, "index.html")
    return (200, full) if os.path.isfile(full) else (404, None)


http_server.resolve = resolve_naively

if __name__ == "__main__":
    sys.exit(http_server.main())
