#!/usr/bin/env python3
# An app whose process speaks HTTPS itself (convox.yml `port: https:3000`),
# with a certificate of its own making, self-signed at start, as apps behind
# Convox's routers often have; TLS_MAX=1.2 makes it an older server. `server.py plain` serves plain HTTP instead.
# It answers every path with who it is, the TLS version the caller used, and
# the Host and X-Forwarded-Proto it was sent; /health with "ok".
import os
import ssl
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLAIN = len(sys.argv) > 1 and sys.argv[1] == "plain"
WHO = "%s/%s" % (os.environ.get("APP", "app"), os.environ.get("SERVICE", "web"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
        else:
            tls = "plain" if PLAIN else self.connection.version()
            body = ("hello over %s from %s, host %s, proto %s\n" % (
                tls, WHO, self.headers.get("Host"),
                self.headers.get("X-Forwarded-Proto"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("server.py: " + (fmt % args) + "\n")


server = ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler)
if not PLAIN:
    d = tempfile.mkdtemp()
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + WHO.replace("/", "."),
                    "-days", "1", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if os.environ.get("TLS_MAX") == "1.2":   # an older server: TLS 1.2 at most
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("serving %s on port %s" % ("http" if PLAIN else "https", os.environ["PORT"]), flush=True)
server.serve_forever()
