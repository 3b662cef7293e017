"""h2-hostile.py — a hostile HTTP/2 client for tests/e2e/h2.t.

Usage: h2-hostile.py PORT AUTHORITY ATTACK

Speaks h2c (prior knowledge) to 127.0.0.1:PORT with frames made by hand
(RFC 9113 4.1; header blocks as HPACK literals, RFC 7541 6.2), runs one
ATTACK, then reads what the server sends until it closes or 10 s pass, and
prints one line:
  goaway CODE MS    a GOAWAY with that error code came, MS ms after the start
  closed MS         the connection closed (or was reset) with no GOAWAY
  served MS         (few-resets) the request after the resets was answered
  open              neither happened within 10 s (the limit did not hold)
Attacks: rapid-reset, made-you-reset, settings-flood, ping-flood, continuation-flood,
big-headers, hpack-bomb, trailer-bomb; slow-reader opens 100 streams of large answers,
reads nothing for 3 s and prints "stalled"; garbage opens 200 connections,
each sending 40 random frames (random types, flags, streams, payloads, now
and then a valid header block) and prints "done"; few-resets is the control: resets under the
limit, then a request on the same connection. silent, close-tail and
zero-window are described at their functions.
"""
import random
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value, indexed=False):
    """A literal field with a literal name: without indexing (0x00), or with
    incremental indexing (0x40: it enters the dynamic table)."""
    n, v = name.encode(), value.encode()
    return bytes([0x40 if indexed else 0x00]) + hpack_int(len(n), 7) + n + \
        hpack_int(len(v), 7) + v


def request_block(authority, extra=b""):
    return literal(":method", "GET") + literal(":scheme", "http") + \
        literal(":path", "/") + literal(":authority", authority) + extra


LAST = 0x7FFFFFFF  # the stream whose answer watch() waits for (few-resets)


def attack(sock, name, authority):
    global LAST
    send = sock.sendall
    if name in ("rapid-reset", "few-resets"):
        # Open a stream and reset it at once, again and again.
        batch = []
        count = 5000 if name == "rapid-reset" else 150
        for i in range(count):
            sid = 1 + 2 * i
            batch.append(frame(HEADERS, END_HEADERS, sid, request_block(authority)))
            batch.append(frame(RST_STREAM, 0, sid, struct.pack(">I", 8)))  # CANCEL
            if len(batch) >= 200:
                send(b"".join(batch))
                batch = []
        if name == "few-resets":
            LAST = 1 + 2 * count
            batch.append(frame(HEADERS, END_HEADERS | END_STREAM, LAST, request_block(authority)))
        send(b"".join(batch))
    elif name == "slow-reader":
        # 100 streams of 50 MB each, and not a byte read: the router must
        # stop reading its upstreams, not buffer their answers.
        send(b"".join(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i,
                            literal(":method", "GET") + literal(":scheme", "http") +
                            literal(":path", "/big?bytes=50000000") +
                            literal(":authority", authority)) for i in range(100)))
        time.sleep(3)
        print("stalled")
        sys.exit(0)
    elif name == "made-you-reset":
        # Streams the server must reset itself, not the client: a request
        # with a connection-specific field (a stream error, RFC 9113 8.2.2).
        batch = []
        bad = request_block(authority, literal("connection", "close"))
        for i in range(5000):
            batch.append(frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, bad))
            if len(batch) >= 200:
                send(b"".join(batch))
                batch = []
        send(b"".join(batch))
    elif name == "settings-flood":
        send(frame(SETTINGS, 0, 0) * 20000)
    elif name == "ping-flood":
        send(frame(PING, 0, 0, b"12345678") * 20000)
    elif name == "continuation-flood":
        # A header block that never ends: CONTINUATION after CONTINUATION.
        send(frame(HEADERS, 0, 1, request_block(authority)))
        for i in range(5000):
            send(frame(CONTINUATION, 0, 1, literal("x-flood-%d" % i, "y")))
    elif name == "big-headers":
        # One header list far past SETTINGS_MAX_HEADER_LIST_SIZE, in frames
        # each under the default 16 KiB.
        block = request_block(authority, literal("x-big", "a" * 60000))
        chunks = [block[i:i + 16000] for i in range(0, len(block), 16000)]
        send(frame(HEADERS, END_STREAM | (END_HEADERS if len(chunks) == 1 else 0), 1, chunks[0]))
        for i, c in enumerate(chunks[1:], 1):
            send(frame(CONTINUATION, END_HEADERS if i == len(chunks) - 1 else 0, 1, c))
    elif name == "hpack-bomb":
        # A 4000-byte field enters the dynamic table once; then each one-byte
        # reference to it (index 62) decodes to 4000 bytes again.
        block = request_block(authority, literal("x-bomb", "b" * 4000, indexed=True) +
                              bytes([0x80 | 62]) * 2000)
        send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    elif name == "trailer-bomb":
        # The same bomb in the trailers of a POST.
        send(frame(HEADERS, END_HEADERS, 1, literal(":method", "POST") +
                   literal(":scheme", "http") + literal(":path", "/echo") +
                   literal(":authority", authority)) + frame(DATA, 0, 1, b"x"))
        block = literal("x-bomb", "b" * 4000, indexed=True) + bytes([0x80 | 62]) * 2000
        send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    else:
        raise SystemExit("unknown attack %r: want rapid-reset, made-you-reset, few-resets, slow-reader, garbage,"
                         " settings-flood, ping-flood, continuation-flood, big-headers,"
                         " hpack-bomb or trailer-bomb" % name)


def take_frames(buf):
    """The whole frames at the start of buf, as (type, flags, stream,
    payload), and the bytes after them."""
    out = []
    while len(buf) >= 9:
        length = int.from_bytes(buf[0:3], "big")
        if len(buf) < 9 + length:
            break
        out.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF,
                    buf[9:9 + length]))
        buf = buf[9 + length:]
    return out, buf


def recv_until(sock, deadline):
    """What the server sends before the monotonic deadline: bytes, b"" when
    it closed (or reset) the connection, None when nothing came."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None
    except OSError:
        return b""


def watch(sock, t0, seconds=10):
    """Frames from the server until a GOAWAY, the close, or seconds pass."""
    buf = b""
    deadline = t0 + seconds
    while time.monotonic() < deadline:
        data = recv_until(sock, deadline)
        if data is None:
            break
        if not data:
            return "closed %d" % ((time.monotonic() - t0) * 1000)
        got, buf = take_frames(buf + data)
        for ftype, _, sid, payload in got:
            if ftype == HEADERS and sid == LAST:
                return "served %d" % ((time.monotonic() - t0) * 1000)
            if ftype == GOAWAY:
                code = struct.unpack(">I", payload[4:8])[0]
                return "goaway %d %d" % (code, (time.monotonic() - t0) * 1000)
    return "open"


def garbage(port, authority):
    rnd = random.Random(9113)
    for _ in range(200):
        frames = []
        for _ in range(40):
            sid = rnd.choice([0, 1, 3, 5, rnd.randrange(1 << 31)])
            if rnd.random() < 0.3:
                frames.append(frame(HEADERS, rnd.choice([4, 5, 0, 0x24, 0x2d]), sid,
                                    request_block(authority)))
            else:
                payload = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 4, 5, 8, 9, 30])))
                frames.append(frame(rnd.randrange(11), rnd.randrange(256), sid, payload))
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + b"".join(frames))
            sock.settimeout(0.05)
            try:
                sock.recv(65536)
            except OSError:
                pass
            sock.close()
        except OSError:
            pass
    print("done")


def close_tail(port, authority):
    """A chunked answer whose upstream closes after its last chunk, to a
    client whose stream window (10000) holds most of it in the router: once
    the window opens, all 70000 bytes and END_STREAM, never a reset."""
    WINDOW_UPDATE = 8
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 10000)) +
                 frame(HEADERS, END_STREAM | END_HEADERS, 1,
                       literal(":method", "GET") + literal(":scheme", "http") +
                       literal(":path", "/big?bytes=70000&close=1") +
                       literal(":authority", authority)))
    time.sleep(1)  # the upstream has written it all and closed
    sock.sendall(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 1 << 20)) +
                 frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 20)))
    buf, got, deadline = b"", 0, time.monotonic() + 10
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            return "closed after %d bytes" % got
        fs, buf = take_frames(buf + data)
        for ftype, flags, sid, payload in fs:
            if sid != 1:
                continue
            if ftype == RST_STREAM:
                return "reset %d after %d bytes" % (struct.unpack(">I", payload)[0], got)
            if ftype == DATA:
                got += len(payload)
                if flags & END_STREAM:
                    return "got %d" % got
    return "open after %d bytes" % got


def silent(port, authority):
    """A request whose body never comes, then not a byte: the connection
    must close once it has been silent for the router's idle timeout."""
    t0 = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0) +
                 frame(HEADERS, END_HEADERS, 1, literal(":method", "POST") +
                       literal(":scheme", "http") + literal(":path", "/") +
                       literal(":authority", authority)))
    return watch(sock, t0, 10)


def zero_window(port, authority):
    """A GET whose answer the client never lets come (its stream window is
    0: SETTINGS_INITIAL_WINDOW_SIZE 0), while a PING every 0.2 s keeps the
    connection from being idle: the router must give the stream up (a reset)
    or the connection (a GOAWAY or the close) in bounded time."""
    t0 = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0)) +
                 frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block(authority)))
    buf, head, next_ping, deadline = b"", False, t0, t0 + 10
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_ping:
            try:
                sock.sendall(frame(PING, 0, 0, b"stillup!"))
            except OSError:
                return "closed %d" % ((now - t0) * 1000)
            next_ping = now + 0.2
        data = recv_until(sock, min(next_ping, deadline))
        if data is None:
            continue
        if not data:
            return "closed %d" % ((time.monotonic() - t0) * 1000)
        got, buf = take_frames(buf + data)
        for ftype, _, sid, payload in got:
            ms = (time.monotonic() - t0) * 1000
            if sid == 1 and ftype == HEADERS:
                head = True
            elif sid == 1 and ftype == DATA:
                return "data %d" % ms  # past a window of 0: a bug of its own
            elif sid == 1 and ftype == RST_STREAM:
                return "reset %d %d%s" % (struct.unpack(">I", payload)[0], ms,
                                          "" if head else " (no head)")
            elif ftype == GOAWAY:
                return "goaway %d %d" % (struct.unpack(">I", payload[4:8])[0], ms)
    return "open"


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: h2-hostile.py PORT AUTHORITY ATTACK")
    port, authority, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if name == "garbage":
        garbage(port, authority)
        return
    if name == "silent":
        print(silent(port, authority))
        return
    if name == "zero-window":
        print(zero_window(port, authority))
        return
    if name == "close-tail":
        print(close_tail(port, authority))
        return
    t0 = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
    try:
        attack(sock, name, authority)
    except OSError:
        pass  # the server cut us off in the middle: watch() tells how
    print(watch(sock, t0))


main()
