#!/usr/bin/env python3
"""Runs a command script against a real redis-server and writes the replies
next to each command, so the Rust tests replay the same script through the
engine and compare. Usage: gen_expected.py PORT script.txt > script.expected

Script format: one command per line, arguments separated by spaces, `""`
for an empty argument; lines starting with `#` are comments. The expected
file holds `> command` lines each followed by the reply in a compact RESP2
form (see `render`)."""
import socket, sys

def split(line):
    return [b"" if t == '""' else t.encode() for t in line.split(" ") if t != ""]

def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

class R:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l
    def exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(65536)
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d
    def read(self):
        l = self.line()
        t, rest = l[:1], l[1:]
        if t == b"+": return "+" + rest.decode()
        if t == b"-": return "!" + rest.decode()
        if t == b":": return ":" + rest.decode()
        if t == b"$":
            n = int(rest)
            return "nil" if n < 0 else "$" + self.exact(n).decode("utf-8", "backslashreplace")
        if t == b"*":
            n = int(rest)
            if n < 0: return "nilarr"
            return "[" + ", ".join(self.read() for _ in range(n)) + "]"
        raise Exception("unexpected " + repr(l))

def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    r = R(port)
    r.s.sendall(enc([b"FLUSHALL"])); r.read()
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        r.s.sendall(enc(split(line)))
        print("> " + line)
        print(r.read())

main()
