"""Instructor-only stages of 03.2 (`make grade HIDDEN=1`): more clients, other orders, bigger numbers, other
bad inputs."""

from grading.assignments.a03_2_square import (expect_square, open_udp, request, s2_many_clients, s3_bad_input,
                                              start_square_server)
from grading.harness import Stage


def h1_more_clients(t):
    s2_many_clients(t, clients=8, rounds=4, burst=30)


def h2_big_numbers(t):
    srv = start_square_server(t)
    u = open_udp(t, srv)
    for number in ["9" * 1000, "-" + "31415926535" * 40, "+17", "0000000012"]:
        t.step(f"send a number of {len(number)} characters, expect its exact square")
        expect_square(t, request(t, u, number.encode(), f"a number of {len(number)} characters"), number,
                      f"a number of {len(number)} characters")


def h3_other_bad_input(t):
    s3_bad_input(t, [b"1 2", b"+", b"-", b"12-", b"1,000", b"NaN", b"\r\n", b"x" * 5000])


STAGES = [
    Stage("30 clients at once, rounds reversed", 10, h1_more_clients),
    Stage("numbers of up to 1000 digits", 10, h2_big_numbers),
    Stage("other bad input, never a crash", 10, h3_other_bad_input),
]
