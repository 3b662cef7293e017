#!/usr/bin/env python3
# An app that opens its own files by absolute path (as Node's require of
# __dirname and most frameworks do) and logs by opening /dev/stderr itself
# (as Apache's `ErrorLog /dev/stderr` does). A platform that runs it where it
# cannot reach its build, or whose stdio it may not open, fails it at start.
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "data", "greeting.txt")) as f:
    GREETING = f.read().strip()
errlog = open("/dev/stderr", "a", buffering=1)
errlog.write("server.py: serving from %s as uid %d\n" % (HERE, os.getuid()))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s (%s)\n" % (GREETING, os.path.join(HERE, "data", "greeting.txt"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        errlog.write("server.py: " + (fmt % args) + "\n")


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
