#!/usr/bin/env python3
"""A light RTMP load generator: replays an FLV file's tags over many publishing connections from one process.

Each connection does the simple handshake, Set Chunk Size 4096, connect / createStream / publish (AMF0, like
Tests/EndToEndTests/rtmp_client.py), then sends the file's tags as RTMP audio (8), video (9) and data (18,
`@setDataFrame` + onMetaData) messages, type-0 chunk header then type-3 continuations, paced in real time by
the tag timestamps. The chunked bytes are built once per clip loop and shared by every connection.

It records, per connection, when each video keyframe was handed to the kernel (time.monotonic(), the same
clock as CLOCK_MONOTONIC in other processes), so an outside observer can compute segment publish delays.

    python bench/rtmp_load.py --port 1935 --keys-file keys.txt --seconds 20 --clip clip.flv --out result.json
"""
import argparse
import asyncio
import json
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests/EndToEndTests"))
from rtmp_client import amf0, read_flv  # noqa: E402  (the tests' AMF0 encoder and FLV reader)
from rtmp_client import chunked as _chunked  # noqa: E402

CHUNK_SIZE = 4096
CSID = {8: 4, 9: 6, 18: 5}  # audio, video, data chunk streams


def chunked(csid, type_id, stream_id, payload, timestamp=0, chunk_size=CHUNK_SIZE):
    """The tests' chunker with this generator's chunk size by default."""
    return _chunked(csid, type_id, stream_id, payload, timestamp, chunk_size)


def is_keyframe(kind, payload):
    # video tag: frame type 1 (key), AVC packet type 1 (NALU), i.e. not the sequence header
    return kind == 9 and len(payload) > 1 and payload[0] >> 4 == 1 and not (payload[0] & 0x0F == 7 and payload[1] == 0)


def is_header(kind, payload):
    if kind == 18:
        return True
    if kind == 9:
        return payload[0] & 0x0F == 7 and len(payload) > 1 and payload[1] == 0
    if kind == 8:
        return payload[0] >> 4 == 10 and len(payload) > 1 and payload[1] == 0
    return False


class Clip:
    """The clip's messages, chunked once per loop (timestamps shifted by loop * duration)."""

    def __init__(self, path, stream_id=1):
        self.tags = read_flv(path)
        last = max(ts for _, ts, _ in self.tags)
        frame = 1000 / 30
        self.duration_ms = int(round(last + frame))
        self.stream_id = stream_id
        self.cache = {}

    def messages(self, loop):
        """[(ts_ms, bytes, keyframe)] for a loop of the clip (headers only in loop 0)."""
        if loop not in self.cache:
            out = []
            offset = loop * self.duration_ms
            for kind, ts, payload in self.tags:
                if loop and is_header(kind, payload):
                    continue
                body = amf0("@setDataFrame") + payload if kind == 18 else payload
                out.append((ts + offset, chunked(CSID[kind], kind, self.stream_id, body, ts + offset),
                            is_keyframe(kind, payload)))
            self.cache[loop] = out
        return self.cache[loop]


async def read_until(reader, marker, seen, timeout=10):
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {marker!r} from the server")
        data = await asyncio.wait_for(reader.read(65536), left)
        if not data:
            raise ConnectionError(f"server closed before {marker!r}")
        seen += data
    return seen


def created_stream_id(seen):
    """The stream id in createStream's _result (transaction 2), else 1."""
    marker = amf0("_result") + amf0(2)
    at = seen.find(marker)
    if at >= 0:
        rest = seen[at + len(marker):]
        if rest[:1] == b"\x05" and rest[1:2] == b"\x00" and len(rest) >= 10:
            return int(struct.unpack(">d", rest[2:10])[0])
    return 1


async def publish(port, key, app="app"):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x03" + bytes(1536))
    got = await reader.readexactly(1 + 1536 + 1536)
    writer.write(got[1:1537])  # C2 echoes S1
    writer.write(chunked(2, 1, 0, struct.pack(">I", CHUNK_SIZE), chunk_size=128))
    connect = amf0("connect") + amf0(1) + amf0({"app": app, "type": "nonprivate", "flashVer": "FMLE/3.0",
                                                "tcUrl": f"rtmp://127.0.0.1:{port}/{app}"})
    writer.write(chunked(3, 20, 0, connect))
    seen = await read_until(reader, b"NetConnection.Connect.Success", b"")
    seen = seen.split(b"NetConnection.Connect.Success", 1)[1]
    writer.write(chunked(3, 20, 0, amf0("releaseStream") + amf0(2.5) + amf0(None) + amf0(key)))
    writer.write(chunked(3, 20, 0, amf0("createStream") + amf0(2) + amf0(None)))
    marker = amf0("_result") + amf0(2)
    seen = await read_until(reader, marker, seen)
    while len(seen) - seen.find(marker) - len(marker) < 10:  # null, then the stream id (number)
        data = await asyncio.wait_for(reader.read(65536), 10)
        if not data:
            raise ConnectionError("server closed after createStream")
        seen += data
    stream_id = created_stream_id(seen)
    writer.write(chunked(4, 20, stream_id, amf0("publish") + amf0(3) + amf0(None) + amf0(key) + amf0("live")))
    await read_until(reader, b"NetStream.Publish.Start", seen)
    return reader, writer, stream_id


async def drain_reader(reader):
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, asyncio.CancelledError):
        pass


async def run_publisher(port, key, clip, start_at, seconds, result):
    loop_time = time.monotonic
    await asyncio.sleep(max(0.0, start_at - loop_time()))
    try:
        reader, writer, stream_id = await publish(port, key)
        if stream_id != clip.stream_id:
            raise RuntimeError(f"server gave stream id {stream_id}, the generator assumes {clip.stream_id}")
        drainer = asyncio.ensure_future(drain_reader(reader))
        begin = loop_time()
        result["published_at"] = begin
        limit = seconds * 1000
        keyframes, lag_max, sent = [], 0.0, 0
        loop = 0
        while True:
            for ts, data, key_frame in clip.messages(loop):
                if ts >= limit:
                    break
                target = begin + ts / 1000
                now = loop_time()
                if target - now > 0.001:
                    await asyncio.sleep(target - now)
                    now = loop_time()
                lag_max = max(lag_max, now - target)
                writer.write(data)
                sent += len(data)
                if key_frame:
                    keyframes.append((ts, loop_time()))
                if writer.transport.get_write_buffer_size() > 4 << 20:
                    await writer.drain()
            else:
                loop += 1
                continue
            break
        await writer.drain()
        result.update(keyframes=keyframes, lag_max=lag_max, bytes=sent, ended_at=loop_time())
        writer.close()
        drainer.cancel()
    except Exception as error:  # reported per connection; the harness decides
        result["error"] = f"{type(error).__name__}: {error}"


async def main_async(args):
    keys = [k for k in Path(args.keys_file).read_text().split() if k]
    clip = Clip(args.clip)
    clip.messages(0)
    base = time.monotonic() + 0.2
    results = {key: {"error": None} for key in keys}
    tasks = [run_publisher(args.port, key, clip, base + index * args.stagger / max(1, len(keys)),
                           args.seconds, results[key]) for index, key in enumerate(keys)]
    await asyncio.gather(*tasks)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys-file", required=True, help="stream keys, one a line: one connection each")
    parser.add_argument("--seconds", type=float, required=True, help="media seconds to send per connection")
    parser.add_argument("--clip", required=True)
    parser.add_argument("--stagger", type=float, default=2.0, help="spread connection starts over this many seconds")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    Path(args.out).write_text(json.dumps(results))
    errors = [f"{k}: {r['error']}" for k, r in results.items() if r.get("error")]
    if errors:
        print("\n".join(errors[:10]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
