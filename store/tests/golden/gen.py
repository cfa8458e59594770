#!/usr/bin/env python3
"""Generates golden replies from a real redis-server 7.0.

usage: gen.py PORT < cases.txt > cases.golden

Input: one command per line (shell-style quoting), `#` comments, `---` to
start a new scenario (FLUSHALL), `@resp3` / `@resp2` to switch protocol.
Output: `command => rendered reply` lines (the format tests/golden/mod.rs
renders), scenario and protocol markers copied through.
"""
import shlex, socket, sys

port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")

def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        b = a.encode("utf-8", "surrogateescape")
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out

def q(b):
    return '"' + b.decode("latin1").replace("\\", "\\\\").replace('"', '\\"') + '"'

def read(proto):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return "+" + rest.decode()
    if t == b"-":
        return "-" + rest.decode()
    if t == b":":
        return ":" + rest.decode()
    if t == b"$":
        n = int(rest)
        if n < 0:
            return "(nil)"
        d = f.read(n + 2)[:-2]
        return q(d)
    if t == b"=":
        n = int(rest)
        d = f.read(n + 2)[:-2]
        return q(d[4:])
    if t in b"*~>":
        n = int(rest)
        if n < 0:
            return "(nil*)"
        items = [read(proto) for _ in range(n)]
        pre = {b"*": "", b"~": "~", b">": ">"}[t]
        return pre + "[" + ",".join(items) + "]"
    if t == b"%":
        n = int(rest)
        items = []
        for _ in range(n):
            k = read(proto)
            v = read(proto)
            items.append(k + ":" + v)
        return "{" + ",".join(items) + "}"
    if t == b",":
        return "," + rest.decode()
    if t == b"_":
        return "(null)"
    if t == b"#":
        return "#" + rest.decode()
    raise SystemExit("unknown reply type %r" % line)

proto = 2
def send(args):
    s.sendall(enc(args))
    return read(proto)

send(["FLUSHALL"])
for raw in sys.stdin:
    line = raw.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        print(line)
        continue
    if line == "---":
        send(["FLUSHALL"])
        print(line)
        continue
    if line in ("@resp3", "@resp2"):
        proto = 3 if line == "@resp3" else 2
        s.sendall(enc(["HELLO", str(proto)]))
        read(proto)
        print(line)
        continue
    print(line + " => " + send(shlex.split(line)))
