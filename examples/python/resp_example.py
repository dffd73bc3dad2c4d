#!/usr/bin/env python3
"""dialkv through its Redis-protocol port with redis-py (Debian: python3-redis).

  resp_example.py HOST PORT [--key PREFIX]

Sets, reads and deletes keys in both consistency modes: the connection's mode is chosen with
DIALKV.MODE, and one command can override it with a CP or AP prefix. Prints what each step
returned; exits non-zero (with the error) at the first step that does not give what dialkv
promises. Errors keep their meaning: UNAVAILABLE (not applied), UNKNOWN (may have been
applied), TIMEOUT, NOAUTH, NOPERM.
"""
import argparse
import sys

import redis


def check(what, got, want):
    print(f"{what}: {got!r}")
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--key", default="resp-example")
    args = parser.parse_args()
    k = args.key

    r = redis.Redis(host=args.host, port=args.port, socket_timeout=10)
    check("ping", r.ping(), True)
    for mode in ("cp", "ap"):
        # redis-py may open more than one connection: the per-command prefix is what a pool of
        # connections should use; DIALKV.MODE changes one connection's default.
        check(f"set ({mode})", r.execute_command(mode.upper(), "SET", f"{k}/{mode}/a", "1"), b"OK")
        check(f"mset ({mode})",
              r.execute_command(mode.upper(), "MSET", f"{k}/{mode}/b", "2", f"{k}/{mode}/c", b"\x00\r\n"),
              b"OK")
        check(f"get ({mode})", r.execute_command(mode.upper(), "GET", f"{k}/{mode}/a"), b"1")
        check(f"mget ({mode})",
              r.execute_command(mode.upper(), "MGET", f"{k}/{mode}/a", f"{k}/{mode}/b",
                                f"{k}/{mode}/c", f"{k}/{mode}/missing"),
              [b"1", b"2", b"\x00\r\n", None])
        check(f"del ({mode})",
              r.execute_command(mode.upper(), "DEL", f"{k}/{mode}/a", f"{k}/{mode}/missing"), 1)
        check(f"get after del ({mode})", r.execute_command(mode.upper(), "GET", f"{k}/{mode}/a"),
              None)

    # One connection, its mode set once: the plain redis-py calls then run in AP.
    single = redis.Redis(host=args.host, port=args.port, socket_timeout=10,
                         single_connection_client=True)
    check("dialkv.mode ap", single.execute_command("DIALKV.MODE", "ap"), b"OK")
    check("dialkv.mode", single.execute_command("DIALKV.MODE"), b"ap")
    check("set (ap connection)", single.set(f"{k}/conn", "x"), True)
    check("get (ap connection)", single.get(f"{k}/conn"), b"x")
    check("mget (ap connection)", single.mget([f"{k}/conn", f"{k}/none"]), [b"x", None])
    check("delete (ap connection)", single.delete(f"{k}/conn"), 1)
    check("exists (ap connection)", single.exists(f"{k}/conn"), 0)
    try:
        single.set(f"{k}/ttl", "x", ex=10)
    except redis.exceptions.ResponseError as e:
        print(f"set with ex: refused: {e}")
    else:
        sys.exit("set with ex: accepted, but dialkv has no expiry")
    print("resp_example: ok")


if __name__ == "__main__":
    main()
