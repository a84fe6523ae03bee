"""A minimal RTMP publisher for tests that need to misbehave on purpose (go silent, send garbage).

Only what the tests need: simple handshake, AMF0 connect/createStream/publish with 128-byte chunks.
"""
import socket
import struct
import time
from pathlib import Path


def amf0(value):
    if value is None:
        return b"\x05"
    if isinstance(value, bool):
        return b"\x01" + (b"\x01" if value else b"\x00")
    if isinstance(value, (int, float)):
        return b"\x00" + struct.pack(">d", float(value))
    if isinstance(value, str):
        data = value.encode()
        return b"\x02" + struct.pack(">H", len(data)) + data
    if isinstance(value, dict):
        body = b"".join(struct.pack(">H", len(k)) + k.encode() + amf0(v) for k, v in value.items())
        return b"\x03" + body + b"\x00\x00\x09"
    raise TypeError(value)


def chunked(csid, type_id, stream_id, payload, timestamp=0, chunk_size=128):
    """One RTMP message: a type-0 chunk, then type-3 continuations; timestamps from 0xFFFFFF on go in
    the extended field, repeated on every continuation (RTMP 1.0 section 5.3.1.3)."""
    timestamp %= 1 << 32
    extended = timestamp >= 0xFFFFFF
    header = bytes([csid]) + (0xFFFFFF if extended else timestamp).to_bytes(3, "big")
    header += len(payload).to_bytes(3, "big") + bytes([type_id]) + struct.pack("<I", stream_id)
    ext = struct.pack(">I", timestamp) if extended else b""
    parts = [payload[i:i + chunk_size] for i in range(0, len(payload), chunk_size)] or [b""]
    return header + ext + parts[0] + b"".join(bytes([0xC0 | csid]) + ext + part for part in parts[1:])


def read_flv(path):
    """[(type, timestamp_ms, payload)] from an FLV file (9-byte header, PreviousTagSize, tags)."""
    data = Path(path).read_bytes()
    assert data[:3] == b"FLV", f"{path} is not an FLV file"
    offset = struct.unpack(">I", data[5:9])[0] + 4
    tags = []
    while offset + 11 <= len(data):
        kind = data[offset] & 0x1F
        size = int.from_bytes(data[offset + 1:offset + 4], "big")
        ts = int.from_bytes(data[offset + 4:offset + 7], "big") | (data[offset + 7] << 24)
        payload = data[offset + 11:offset + 11 + size]
        if len(payload) < size:
            break
        if kind in (8, 9, 18):
            tags.append((kind, ts, payload))
        offset += 11 + size + 4
    return tags


def push_tags(sock, tags, offset_ms=0, chunk_size=4096, realtime=False):
    """Sends FLV tags on a publishing socket, as fast as it takes them or paced by their timestamps,
    timestamps shifted by `offset_ms` (and wrapping at 2^32 ms as RTMP's do)."""
    sock.sendall(chunked(2, 1, 0, struct.pack(">I", chunk_size)))  # Set Chunk Size
    started = time.monotonic()
    for kind, timestamp, payload in tags:
        if realtime and (wait := started + timestamp / 1000 - time.monotonic()) > 0:
            time.sleep(wait)
        sock.sendall(chunked({8: 4, 9: 6, 18: 5}[kind], kind, 1, payload, timestamp + offset_ms, chunk_size))


def handshake(sock):
    sock.sendall(b"\x03" + bytes(1536))
    need, got = 1 + 1536 + 1536, b""
    while len(got) < need:
        chunk = sock.recv(65536)
        assert chunk, "server closed during the handshake"
        got += chunk
    sock.sendall(got[1:1537])  # C2 echoes S1
    return got[need:]


def read_until(sock, marker, timeout=5, seen=b""):
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} from the server"
        data = sock.recv(65536)
        assert data, f"server closed before {marker!r}: {seen[-200:]!r}"
        seen += data
    return seen


def publish(port, key, app="app", expect=b"NetStream.Publish.Start"):
    """Connects and publishes `key`; returns the socket once `expect` (the onStatus code) arrived."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    leftover = handshake(sock)
    connect = amf0("connect") + amf0(1) + amf0({"app": app, "type": "nonprivate", "flashVer": "FMLE/3.0",
                                                "tcUrl": f"rtmp://127.0.0.1:{port}/{app}"})
    sock.sendall(chunked(3, 20, 0, connect))
    seen = read_until(sock, b"NetConnection.Connect.Success", seen=leftover)
    sock.sendall(chunked(3, 20, 0, amf0("createStream") + amf0(2) + amf0(None)))
    seen = read_until(sock, b"_result", seen=seen.split(b"NetConnection.Connect.Success", 1)[1])
    sock.sendall(chunked(4, 20, 1, amf0("publish") + amf0(3) + amf0(None) + amf0(key) + amf0("live")))
    read_until(sock, expect, seen=seen)
    return sock
