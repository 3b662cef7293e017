#!/usr/bin/env python3
"""cx-flood — client side of the router's flood tests (tests/e2e/flood.t)
and bench (bench/flood.sh). Every mode bounds its waits.

  cx-flood.py keep IP:PORT HOST SECONDS READY_FILE
      One keep-alive connection: a GET every 20 ms for SECONDS (the first
      before READY_FILE is written); prints "ok N fail M" and the first error.
  cx-flood.py hold ADDR N SECONDS
      Opens N idle connections, FLOOD_GAP_MS (2) apart (those the kernel refuses are
      counted), to IP:PORT or a unix socket's path, and holds them SECONDS;
      prints "connected C refused R" once they are open, then "eof I,J,..."
      naming those the server closed.
  cx-flood.py shed IP:PORT HOST CAP NEW
      Opens CAP idle connections in order, 10 ms apart, makes a request on
      the first (now the most recently active), then opens NEW more that
      each make a request; prints "served S eof I,J,..." naming the held
      connections that saw EOF, then "first A" (alive/eof).
  cx-flood.py rate IP:PORT HOST CONNS SECONDS
      CONNS keep-alive connections sending GETs back to back for SECONDS;
      prints "rps R ok N fail M".
  cx-flood.py idle IP:PORT HOST N SECONDS [CAFILE]
      Opens N keep-alive connections one after another (over TLS with SNI
      HOST when CAFILE is given), makes one request on each, prints "held H
      failed F" and the last error, then holds them SECONDS. Used by
      bench/router.sh to weigh an idle connection in the proxy's memory.
"""
import os
import select
import socket
import ssl
import sys
import time

# Seconds between the connects of "hold" (FLOOD_GAP_MS, default 2).
GAP = float(os.environ.get("FLOOD_GAP_MS", "2")) / 1000


def addr(s):
    if s.startswith("/"):
        return s
    host, port = s.rsplit(":", 1)
    return host, int(port)


def request(sock, host, timeout=2.0):
    """One GET on sock; True when a whole 200 answer came back."""
    sock.settimeout(timeout)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("EOF before the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("EOF in the body")
        body += chunk
    return head.split(b" ", 2)[1] == b"200"


def connect(a, timeout=2.0):
    if isinstance(a, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(a)
        return s
    s = socket.create_connection(a, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def saw_eof(s):
    """Whether the peer closed s (readable and reads EOF or a reset)."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def keep(a, host, seconds, ready):
    ok = fail = 0
    first_err = ""
    s = connect(a)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if request(s, host):
                ok += 1
            else:
                fail += 1
        except (OSError, ConnectionError) as e:
            fail += 1
            first_err = first_err or repr(e)
            s.close()
            s = connect(a)
        if ok + fail == 1:
            open(ready, "w").close()
        time.sleep(0.02)
    print(f"ok {ok} fail {fail} {first_err}".strip())


def hold(a, n, seconds):
    socks, refused = [], 0
    for _ in range(n):
        try:
            socks.append(connect(a, timeout=1.0))
        except OSError:
            refused += 1
        time.sleep(GAP)
    print(f"connected {len(socks)} refused {refused}", flush=True)
    time.sleep(seconds)
    eof = [str(i) for i, s in enumerate(socks) if saw_eof(s)]
    print(f"eof {','.join(eof) or '-'}")
    for s in socks:
        s.close()


def shed(a, host, cap, new):
    held = []
    for _ in range(cap):
        held.append(connect(a))
        time.sleep(0.01)
    request(held[0], host)
    time.sleep(0.05)
    served, extra = 0, []
    for _ in range(new):
        s = connect(a)
        extra.append(s)
        if request(s, host):
            served += 1
    time.sleep(0.2)
    eof = [str(i) for i, s in enumerate(held) if saw_eof(s)]
    print(f"served {served} eof {','.join(eof) or '-'}")
    print("first " + ("eof" if saw_eof(held[0]) else "alive"))


def rate(a, host, conns, seconds):
    socks = [connect(a) for _ in range(conns)]
    ok = fail = 0
    end = time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < end:
        for i, s in enumerate(socks):
            try:
                if request(s, host):
                    ok += 1
                else:
                    fail += 1
            except (OSError, ConnectionError):
                fail += 1
                s.close()
                try:
                    socks[i] = connect(a, timeout=1.0)
                except OSError:
                    pass
    elapsed = time.monotonic() - start
    print(f"rps {ok / elapsed:.0f} ok {ok} fail {fail}")


def idle(a, host, n, seconds, cafile):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    held, failed, why = [], 0, ""
    for _ in range(n):
        try:
            s = connect(a, timeout=5.0)
            if ctx is not None:
                s = ctx.wrap_socket(s, server_hostname=host)
            if not request(s, host, timeout=5.0):
                raise ConnectionError("not a 200")
            held.append(s)
        except (OSError, ConnectionError, ValueError) as e:
            failed += 1
            why = str(e)
    print(f"held {len(held)} failed {failed} {why}", flush=True)
    time.sleep(seconds)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    mode, rest = argv[1], argv[2:]
    if mode == "keep" and len(rest) == 4:
        keep(addr(rest[0]), rest[1], float(rest[2]), rest[3])
    elif mode == "hold" and len(rest) == 3:
        hold(addr(rest[0]), int(rest[1]), float(rest[2]))
    elif mode == "shed" and len(rest) == 4:
        shed(addr(rest[0]), rest[1], int(rest[2]), int(rest[3]))
    elif mode == "rate" and len(rest) == 4:
        rate(addr(rest[0]), rest[1], int(rest[2]), float(rest[3]))
    elif mode == "idle" and len(rest) in (4, 5):
        idle(addr(rest[0]), rest[1], int(rest[2]), float(rest[3]),
             rest[4] if len(rest) == 5 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
