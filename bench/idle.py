#!/usr/bin/env python3
# idle.py — opens N keep-alive client connections to a proxy, sends one GET on
# each and reads its whole answer (so each is an idle connection between
# requests, as a browser leaves it), prints "held N", then keeps them open
# until killed or HOLD_S seconds pass. Used by bench/router.sh to measure the
# proxy's memory per idle connection.
#
#   idle.py PORT HOST N [CAFILE]     with CAFILE: over TLS, SNI and Host HOST
#
# Every socket operation has a 5 s timeout; a connection that fails is
# counted ("failed M") and the others are held.
import socket
import ssl
import sys
import time

HOLD_S = 300


def one(port, host, ctx):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if ctx is not None:
        s = ctx.wrap_socket(s, server_hostname=host)
    s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed before the head")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    want = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            want = int(value.strip())
    while len(body) < want:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed in the body")
        body += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError("answered " + head.split(b"\r\n")[0].decode(errors="replace"))
    return s


def main():
    port, host, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ctx = None
    if len(sys.argv) > 4:
        ctx = ssl.create_default_context(cafile=sys.argv[4])
    held, failed, why = [], 0, ""
    for _ in range(n):
        try:
            held.append(one(port, host, ctx))
        except (OSError, ValueError) as e:
            failed += 1
            why = str(e)
    print(f"held {len(held)} failed {failed} {why}", flush=True)
    time.sleep(HOLD_S)


main()
