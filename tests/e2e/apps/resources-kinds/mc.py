# Sets and gets a key on $SESSIONS_URL (memcached's text protocol); prints the reply.
import os
import socket
from urllib.parse import urlparse

u = urlparse(os.environ["SESSIONS_URL"])
with socket.create_connection((u.hostname, u.port), timeout=5) as s:
    s.sendall(b"set k 0 0 2\r\nhi\r\nget k\r\n")
    got = b""
    while not got.endswith(b"END\r\n"):
        got += s.recv(4096)
print(got.decode().replace("\r\n", " ").strip())
