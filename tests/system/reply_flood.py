#!/usr/bin/env python3
"""A client that registers itself, takes LOCKSPACE:RESOURCE, then sends
status requests without ever reading a reply, until the daemon closes the
connection or SECONDS pass.

    reply_flood.py SOCKET LOCKSPACE RESOURCE SECONDS

Prints "holding" once the lease is granted, then "closed by the daemon after
N requests" (exit 0) or "still open after N requests" (exit 1)."""
import socket
import struct
import sys
import time

PATH, LS, RES, SECONDS = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode(), float(sys.argv[4])
MAGIC = 0x31504D53
REGISTER, ACQUIRE, STATUS = 1, 2, 8
T_NAME, T_RESOURCE, T_LOCKSPACE = 1, 4, 5


def hdr(cmd, length, seq):
    return struct.pack('<IHHIIIi', MAGIC, 1, cmd, seq, 0, length, 0)


def tlv(tag, val):
    return struct.pack('<HI', tag, len(val)) + val


def request(s, cmd, payload, seq):
    s.sendall(hdr(cmd, len(payload), seq) + payload)
    data = b''
    while len(data) < 24:
        chunk = s.recv(24 - len(data))
        if not chunk:
            sys.exit('reply_flood: connection closed during setup')
        data += chunk
    length, result = struct.unpack('<Ii', data[16:24])
    body = b''
    while len(body) < length:
        body += s.recv(length - len(body))
    if result != 0:
        sys.exit('reply_flood: command %d failed: %d %r' % (cmd, result, body))


s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(PATH)
request(s, REGISTER, tlv(T_NAME, b'flood'), 1)
request(s, ACQUIRE, tlv(T_RESOURCE, tlv(T_LOCKSPACE, LS) + tlv(T_NAME, RES)), 2)
print('holding', flush=True)

batch = b''.join(hdr(STATUS, 0, 3 + i) for i in range(1000))
s.setblocking(False)
pending = memoryview(batch)
sent = 0
end = time.monotonic() + SECONDS
while time.monotonic() < end:
    try:
        n = s.send(pending)  # never a partial message twice: framing stays intact
        pending = pending[n:]
        if not pending:
            sent += 1000
            pending = memoryview(batch)
    except BlockingIOError:
        time.sleep(0.01)  # the daemon reads no more for now
    except (BrokenPipeError, ConnectionResetError):
        print('closed by the daemon after about %d requests' % sent, flush=True)
        sys.exit(0)
print('still open after about %d requests' % sent, flush=True)
sys.exit(1)
