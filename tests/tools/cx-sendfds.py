#!/usr/bin/env python3
# cx-sendfds.py SOCKET PASSWORD PATH BODY FILE...: one API request over a
# rack's unix socket with the named files opened and sent along (SCM_RIGHTS)
# as the descriptors `cx run` would send; prints the daemon's whole answer.
# For tests that hand the daemon what the CLI never would (a named FIFO).
import base64
import os
import socket
import sys

sock_path, password, path, body = sys.argv[1:5]
fds = []
for name in sys.argv[5:]:
    fds.append(os.open(name, (os.O_RDONLY if not fds else os.O_WRONLY) | os.O_NONBLOCK))
auth = base64.b64encode(("convox:" + password).encode()).decode()
head = ("POST %s HTTP/1.1\r\nHost: rack\r\nAuthorization: Basic %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        % (path, auth, len(body)))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sock_path)
socket.send_fds(s, [head.encode() + body.encode()], fds)
answer = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    answer += chunk
sys.stdout.write(answer.decode(errors="replace"))
