#!/usr/bin/python3
"""bdev_sha256.py SOCKET NAME MIB [OFFSET_MIB]: the sha256 of MIB MiB of the daemon's device NAME
from OFFSET_MIB (default 0), read 1 MiB at a time with the JSON-RPC method bdev_read on the
daemon's Unix socket. Prints the hex digest; exits non-zero with a message on any error."""
import base64
import hashlib
import json
import socket
import sys


def call(path, request):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(path)
        s.sendall(json.dumps(request).encode())
        buf, dec = b"", json.JSONDecoder()
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                sys.exit(f"{request['method']}: socket closed without a reply")
            buf += chunk
            try:
                reply, _ = dec.raw_decode(buf.decode())
                return reply
            except ValueError:
                continue


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    path, name, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
    first = int(sys.argv[4]) if len(sys.argv) == 5 else 0
    h = hashlib.sha256()
    for i in range(first, first + mib):
        reply = call(path, {"jsonrpc": "2.0", "id": i, "method": "bdev_read",
                            "params": {"name": name, "offset": i << 20, "length": 1 << 20}})
        if reply.get("error"):
            sys.exit(f"bdev_read {name} @{i} MiB: {reply['error']}")
        data = base64.b64decode(reply["result"])
        if len(data) != 1 << 20:
            sys.exit(f"bdev_read {name} @{i} MiB: {len(data)} bytes")
        h.update(data)
    print(h.hexdigest())


if __name__ == "__main__":
    main()
