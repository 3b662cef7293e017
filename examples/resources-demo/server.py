#!/usr/bin/env python3
# The resources demo's web service: notes kept in postgres (through psql, so
# that it needs nothing beyond Debian's postgresql-client), a count of writes
# in redis (its protocol spoken here, a few lines). Python's standard library
# only.
#   GET  /notes         the notes, one a line, then "writes: N"
#   POST /notes?text=T  adds one
import os
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DB = os.environ["DATABASE_URL"]
CACHE = urlparse(os.environ["CACHE_URL"])


def psql(sql, **params):
    args = ["psql", DB, "-X", "-At", "-v", "ON_ERROR_STOP=1"]
    for k, v in params.items():
        args += ["-v", f"{k}={v}"]
    r = subprocess.run(args, input=sql, capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return r.stdout


def redis(*words):
    """One command on a new connection, after AUTH; the reply as text."""
    with socket.create_connection((CACHE.hostname, CACHE.port), timeout=5) as s:
        f = s.makefile("rwb")
        for cmd in (("AUTH", CACHE.password), words):
            f.write(b"*%d\r\n" % len(cmd))
            for w in cmd:
                w = str(w).encode()
                f.write(b"$%d\r\n%s\r\n" % (len(w), w))
        f.flush()
        replies = []
        for _ in range(2):
            line = f.readline().rstrip(b"\r\n")
            if line[:1] == b"-":
                raise RuntimeError(line[1:].decode())
            if line[:1] == b"$":
                n = int(line[1:])
                line = f.read(n + 2)[:-2] if n >= 0 else b""
            replies.append(line.lstrip(b"+:").decode())
        return replies[1]


class Handler(BaseHTTPRequestHandler):
    def answer(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, "ok\n")
        if self.path != "/notes":
            return self.answer(404, "try /notes\n")
        try:
            rows = psql("SELECT body FROM notes ORDER BY id;")
            writes = redis("GET", "writes") or "0"
        except Exception as e:
            return self.answer(500, f"error: {e}\n")
        self.answer(200, f"{rows}writes: {writes}\n")

    def do_POST(self):
        u = urlparse(self.path)
        text = parse_qs(u.query).get("text", [""])[0]
        if u.path != "/notes" or not text:
            return self.answer(400, "POST /notes?text=...\n")
        try:
            psql("INSERT INTO notes (body) VALUES (:'t');", t=text)
            writes = redis("INCR", "writes")
        except Exception as e:
            return self.answer(500, f"error: {e}\n")
        self.answer(201, f"added; writes: {writes}\n")

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))


port = int(os.environ.get("PORT", "3000"))
print(f"listening on port {port}", flush=True)
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
