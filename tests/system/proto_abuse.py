#!/usr/bin/env python3
"""Send malformed, truncated, oversized and random messages to sync_managerd.

Every bad message must get an error reply or a closed connection, and the
daemon must keep answering everyone (checked after every case).  Prints one
line per case; exits 1 on the first misbehaviour."""
import os
import random
import socket
import struct
import sys

PATH = sys.argv[1]
MAGIC = 0x31504D53
STATUS, REGISTER, ACQUIRE = 8, 1, 2


def hdr(cmd, length, magic=MAGIC, version=1, seq=1, flags=0):
    return struct.pack('<IHHIIIi', magic, version, cmd, seq, flags, length, 0)


def tlv(tag, val):
    return struct.pack('<HI', tag, len(val)) + val


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(PATH)
    return s


def read_reply(s):
    """(result, payload) or None when the daemon closed the connection."""
    data = b''
    while len(data) < 24:
        chunk = s.recv(24 - len(data))
        if not chunk:
            return None
        data += chunk
    magic, ver, cmd, seq, flags, length, result = struct.unpack('<IHHIIIi', data)
    assert magic == MAGIC, 'reply with bad magic'
    payload = b''
    while len(payload) < length:
        chunk = s.recv(length - len(payload))
        if not chunk:
            return None
        payload += chunk
    return result, payload


def daemon_ok():
    s = connect()
    s.sendall(hdr(STATUS, 0, seq=7))
    r = read_reply(s)
    s.close()
    return r is not None and r[0] == 0


failures = 0


def case(name, data, expect_close=False, close_early=False):
    global failures
    s = connect()
    try:
        s.sendall(data)
        if close_early:
            s.close()
            outcome = 'closed by us'
        else:
            r = read_reply(s)
            if r is None:
                outcome = 'connection closed'
            else:
                outcome = 'error %d' % r[0] if r[0] < 0 else 'result %d' % r[0]
                if r[0] >= 0 and not expect_close:
                    pass
    except (ConnectionResetError, BrokenPipeError):
        outcome = 'connection reset'
    except socket.timeout:
        outcome = 'TIMEOUT (no reply)'
        failures += 1
    finally:
        try:
            s.close()
        except OSError:
            pass
    alive = daemon_ok()
    print('%-48s -> %-20s daemon %s' % (name, outcome, 'ok' if alive else 'DEAD'))
    if not alive:
        print('daemon stopped answering', file=sys.stderr)
        sys.exit(1)
    return outcome


out = case('bad magic', hdr(STATUS, 0, magic=0xdeadbeef))
assert out in ('connection closed', 'connection reset') or out.startswith('error'), out
out = case('unsupported protocol version', hdr(STATUS, 0, version=9))
assert out != 'result 0', out
out = case('length over the 1 MiB limit', hdr(STATUS, 8 << 20))
assert out != 'result 0', out
out = case('unknown command', hdr(999, 0))
assert out.startswith('error'), out
bad_tlv = struct.pack('<HI', 4, 0x00ffffff)
out = case('TLV longer than the message', hdr(ACQUIRE, len(bad_tlv)) + bad_tlv)
assert out.startswith('error'), out
name = tlv(1, b'bad\x00name')
out = case('string with a NUL byte', hdr(REGISTER, len(name)) + name)
assert out.startswith('error'), out
nested = b''
for _ in range(12):
    nested = tlv(4, nested)
out = case('groups nested 12 deep', hdr(ACQUIRE, len(nested)) + nested)
assert out.startswith('error'), out
res = tlv(4, tlv(5, b'ls') + tlv(1, b'x' * 200))
out = case('resource name of 200 bytes', hdr(ACQUIRE, len(res)) + res)
assert out.startswith('error'), out
case('half a header, then close', hdr(STATUS, 0)[:10], close_early=True)
case('header promising 100 bytes, 10 sent, close', hdr(ACQUIRE, 100) + b'x' * 10, close_early=True)
tiny = tlv(3, b'\x01\x02')
out = case('PID field of 2 bytes', hdr(ACQUIRE, len(tiny)) + tiny)
assert out.startswith('error'), out

# A valid request after a bad one on the same connection still works.
s = connect()
s.sendall(hdr(999, 0, seq=1) + hdr(STATUS, 0, seq=2))
r1, r2 = read_reply(s), read_reply(s)
s.close()
assert r1 and r1[0] < 0 and r2 and r2[0] == 0, (r1, r2)
print('%-48s -> error, then the status request succeeds' % 'bad then good request on one connection')

rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
counts = {}
for i in range(400):
    cmd = rnd.randrange(0, 20)
    payload = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 200)))
    if rnd.random() < 0.5:  # plausible TLVs with random content
        payload = b''.join(tlv(rnd.randrange(1, 32), bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 40))))
                           for _ in range(rnd.randrange(0, 6)))
    s = connect()
    try:
        s.sendall(hdr(cmd, len(payload), seq=i) + payload)
        r = read_reply(s)
        k = 'closed' if r is None else ('error' if r[0] < 0 else 'ok')
    except (ConnectionResetError, BrokenPipeError):
        k = 'closed'
    s.close()
    counts[k] = counts.get(k, 0) + 1
if not daemon_ok():
    sys.exit('daemon stopped answering after random messages')
print('400 random messages: %s; daemon ok' % ', '.join('%d %s' % (v, k) for k, v in sorted(counts.items())))
sys.exit(1 if failures else 0)
