#!/usr/bin/python3
"""cx-grpc.py: a real gRPC server and client for the tests (Debian's python3-grpcio).

Generic handlers with raw-bytes serializers, so no .proto and no protoc:

  serve [--port N] [--name NAME] [--health-file F] [--max-streams N]
      listens on 127.0.0.1:N (or 0.0.0.0:$PORT) with
        cx.test.Echo/Echo     unary: answers "NAME:" + the request
        cx.test.Echo/Stream   server streaming: the request is "COUNT SIZE DELAY_MS";
                              COUNT messages of SIZE bytes, DELAY_MS apart
        cx.test.Echo/Missing  fails with NOT_FOUND, "no such thing: " + the request
        grpc.health.v1.Health/Check  SERVING (08 01), or NOT_SERVING (08 02) while
                              the file F exists, or after SIGUSR1 (SIGUSR2: SERVING)
      NAME defaults to $HOSTNAME (a rack's process id), else "p$PORT".
  call ADDR AUTHORITY [--tls CA] [--n N] [--each] [--method M] [--data D]
      N unary calls (default 1); prints "OK <reply>" or "ERR <CODE> <details>" for the last
      (for each with --each)
  stream ADDR AUTHORITY COUNT SIZE DELAY_MS [--read-delay S] [--tls CA]
      reads the stream, sleeping S seconds after each message; prints "GOT n bytes" then
      "OK" or "ERR <CODE> <details>"
  bench ADDR AUTHORITY SECONDS CONCURRENCY
      unary calls from CONCURRENCY threads for SECONDS; prints calls/s
  hold ADDR AUTHORITY N SECONDS
      N concurrent streams, each one message per 100 ms for SECONDS; prints "OK n" at the end
"""
import argparse
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

RAW = dict(request_deserializer=None, response_serializer=None)


def serve(a):
    port = a.port or int(os.environ["PORT"])
    name = (a.name or os.environ.get("HOSTNAME") or "p%d" % port).encode()
    serving = [True]
    signal.signal(signal.SIGUSR1, lambda *_: serving.__setitem__(0, False))
    signal.signal(signal.SIGUSR2, lambda *_: serving.__setitem__(0, True))

    def echo(req, ctx):
        return name + b":" + req

    def stream(req, ctx):
        count, size, delay = (int(x) for x in req.decode().split())
        for i in range(count):
            yield bytes([48 + i % 10]) * size
            if delay:
                time.sleep(delay / 1000)

    def missing(req, ctx):
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing: " + req.decode())

    def check(req, ctx):
        if not serving[0] or (a.health_file and os.path.exists(a.health_file)):
            return b"\x08\x02"
        return b"\x08\x01"

    echo_h = grpc.method_handlers_generic_handler("cx.test.Echo", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Missing": grpc.unary_unary_rpc_method_handler(missing),
    })
    health_h = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(check),
    })
    opts = []
    if a.max_streams:
        opts.append(("grpc.max_concurrent_streams", a.max_streams))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=200), options=opts)
    server.add_generic_rpc_handlers((echo_h, health_h))
    # 127.0.0.1 for --port (a test's own server); every address for $PORT (an
    # app process, which may have an address of its own)
    server.add_insecure_port("%s:%d" % ("127.0.0.1" if a.port else "0.0.0.0", port))
    server.start()
    print("serving on %d" % port, flush=True)
    server.wait_for_termination()


def channel(a):
    opts = [("grpc.default_authority", a.authority), ("grpc.enable_retries", 0)]
    if a.tls:
        with open(a.tls, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        opts.append(("grpc.ssl_target_name_override", a.authority.split(":")[0]))
        return grpc.secure_channel(a.addr, creds, options=opts)
    return grpc.insecure_channel(a.addr, options=opts)


def err(e):
    return "ERR %s %s" % (e.code().name, e.details())


def call(a):
    ch = channel(a)
    f = ch.unary_unary(a.method)
    out = ""
    for _ in range(a.n):
        try:
            out = "OK " + f(a.data.encode(), timeout=10).decode()
        except grpc.RpcError as e:
            out = err(e)
        if a.each:
            print(out)
    if not a.each:
        print(out)


def stream(a):
    ch = channel(a)
    f = ch.unary_stream("/cx.test.Echo/Stream")
    got = 0
    try:
        for m in f(("%d %d %d" % (a.count, a.size, a.delay)).encode(), timeout=60):
            got += len(m)
            if a.read_delay:
                time.sleep(a.read_delay)
        print("GOT %d bytes" % got)
        print("OK")
    except grpc.RpcError as e:
        print("GOT %d bytes" % got)
        print(err(e))


def bench(a):
    ch = channel(a)
    f = ch.unary_unary("/cx.test.Echo/Echo")
    f(b"warm", timeout=10)
    stop = time.monotonic() + a.seconds
    counts = [0] * a.concurrency

    def run(i):
        while time.monotonic() < stop:
            f(b"x", timeout=10)
            counts[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(a.concurrency)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("%.0f calls/s" % (sum(counts) / a.seconds))


def hold(a):
    ch = channel(a)
    f = ch.unary_stream("/cx.test.Echo/Stream")
    n = int(a.seconds * 10)
    ok = [0]

    def run():
        got = sum(1 for _ in f(("%d 16 100" % n).encode(), timeout=a.seconds + 30))
        if got == n:
            ok[0] += 1

    ts = [threading.Thread(target=run) for _ in range(a.n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("OK %d" % ok[0])


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--name")
    s.add_argument("--health-file")
    s.add_argument("--max-streams", type=int, default=0)
    for cmd in ("call", "stream", "bench", "hold"):
        c = sub.add_parser(cmd)
        c.add_argument("addr")
        c.add_argument("authority")
        c.add_argument("--tls")
        if cmd == "call":
            c.add_argument("--n", type=int, default=1)
            c.add_argument("--each", action="store_true", help="print every call's outcome")
            c.add_argument("--method", default="/cx.test.Echo/Echo")
            c.add_argument("--data", default="hello")
        elif cmd == "stream":
            c.add_argument("count", type=int)
            c.add_argument("size", type=int)
            c.add_argument("delay", type=int)
            c.add_argument("--read-delay", type=float, default=0)
        elif cmd == "bench":
            c.add_argument("seconds", type=float)
            c.add_argument("concurrency", type=int)
        else:
            c.add_argument("n", type=int)
            c.add_argument("seconds", type=float)
    a = p.parse_args()
    {"serve": serve, "call": call, "stream": stream, "bench": bench, "hold": hold}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
