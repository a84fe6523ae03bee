#!/usr/bin/env python3
"""LL-HLS part delivery delay (issue 12): from the publisher sending the last frame of a part to a
blocked client receiving the playlist that lists it, with 1, 100 and 1,000 concurrent blocked clients.

The release onair runs on loopback with a `low` stream. A publisher process (this file with
--publish) sends a 30 fps clip in real time and records when each video frame's bytes went to the
kernel (CLOCK_MONOTONIC, shared by processes). The client processes (4 by default) hold N
keep-alive HTTP/1.1 connections between them; each asks, as hls.js does, for the part after the newest one it has seen
(`_HLS_msn=M&_HLS_part=P`), and notes when each answer is complete. Afterwards every part is fetched
once and its last video frame found from its `moof` (tfdt + durations), which maps it to the
publisher's send time. No anchor: nginx and the other servers here have no LL-HLS. The clients are
Python asyncio on the same two cores: with 1,000 clients their own time to read 1,000 answers is
part of the figure.

    .venv/bin/python bench/part_delivery.py [--clients 1,100,1000] [--seconds 20]
"""
import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests/EndToEndTests"))
sys.path.insert(0, str(ROOT / "bench"))
import conftest  # noqa: E402
import rtmp_load  # noqa: E402
import uvloop  # noqa: E402

OFFSET = 126_000  # FragmentedMP4Muxer.timestampOffset: decode time = DTS + 1.4 s at 90 kHz


# ------------------------------------------------------------------------------------------ publisher

async def publish(port, key, clip_path, seconds, out):
    clip = rtmp_load.Clip(clip_path)
    reader, writer, _ = await rtmp_load.publish(port, key)
    drainer = asyncio.ensure_future(rtmp_load.drain_reader(reader))
    begin = time.monotonic()
    sent = {}
    loop = 0
    while True:
        for ts, data, _ in clip.messages(loop):
            if ts >= seconds * 1000:
                break
            wait = begin + ts / 1000 - time.monotonic()
            if wait > 0.0005:
                await asyncio.sleep(wait)
            writer.write(data)
            if data[0] & 0x3F == rtmp_load.CSID[9]:  # the video chunk stream
                sent.setdefault(ts, time.monotonic())
        else:
            loop += 1
            continue
        break
    await writer.drain()
    Path(out).write_text(json.dumps(sent))
    writer.close()
    drainer.cancel()


# ------------------------------------------------------------------------------------------ clients

PART = re.compile(rb'#EXT-X-PART:DURATION=[0-9.]+,URI="[^"]*-p(\d+)\.m4s"')


class Blocked(asyncio.Protocol):
    """One keep-alive connection doing blocking reloads for the next part, hls.js style."""

    parsed = {}  # body -> (newest part, next request): every client gets the same few bodies

    def __init__(self, path, log, stop):
        self.path, self.log, self.stop = path, log, stop
        self.buffer = b""
        self.transport = None
        self.next = None  # (msn, part)

    def connection_made(self, transport):
        self.transport = transport
        self.request()

    def request(self):
        query = "" if self.next is None else f"?_HLS_msn={self.next[0]}&_HLS_part={self.next[1]}"
        # As a browser asks: gzip accepted (hls.js in Chromium gets gzipped playlists).
        self.transport.write(f"GET {self.path}{query} HTTP/1.1\r\nHost: b\r\nAccept-Encoding: gzip\r\n\r\n".encode())

    def data_received(self, data):
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        at = self.buffer.find(b"content-length:", 0, head_end)
        if at < 0:
            at = self.buffer.lower().find(b"content-length:", 0, head_end)
        length = int(self.buffer[at + 15:self.buffer.find(b"\r\n", at)])
        if len(self.buffer) < head_end + 4 + length:
            return
        now = time.monotonic()
        body = self.buffer[head_end + 4:head_end + 4 + length]
        self.buffer = self.buffer[head_end + 4 + length:]
        known = Blocked.parsed.get(body)
        if known is None:
            text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            known = Blocked.parsed[body] = (max(int(m) for m in PART.findall(text)), next_request(text))
        if self.next is not None:
            self.log.append((known[0], now))
        self.next = known[1]
        if not self.stop.is_set():
            self.request()


def next_request(body):
    """(msn, part) after the newest listed part, as hls.js computes it."""
    text = body.decode()
    sequence = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text).group(1))
    lines = text.splitlines()
    msn, part = sequence, -1
    for line in lines:
        if line.startswith("#EXT-X-PART:"):
            part += 1
        elif line.startswith("#EXTINF"):
            msn, part = msn + 1, -1
    # parts after the last EXTINF belong to segment `msn` (the open one); -1 means none yet
    return (msn, part + 1)


def client_process(port, path, count, seconds, queue):
    uvloop.install()  # libuv's loop: the clients' own cost per answer is a fraction of asyncio's
    queue.put(asyncio.run(run_clients(port, path, count, seconds)))


def clients(port, path, count, seconds, processes):
    """`count` blocked clients spread over `processes` processes (one asyncio loop each, so the
    client's own reading is shared between the cores as the server's writing is)."""
    queue = multiprocessing.Queue()
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    workers = [multiprocessing.Process(target=client_process, args=(port, path, n, seconds, queue)) for n in shares if n]
    for worker in workers:
        worker.start()
    logs = [log for _ in workers for log in queue.get()]
    for worker in workers:
        worker.join()
    return logs


async def run_clients(port, path, count, seconds):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    logs = []
    transports = []
    for _ in range(count):
        log = []
        logs.append(log)
        transport, _ = await loop.create_connection(lambda log=log: Blocked(path, log, stop), "127.0.0.1", port)
        transports.append(transport)
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.sleep(1.5)
    for transport in transports:
        transport.close()
    return logs


# ------------------------------------------------------------------------------------------ parts

def last_frame_ms(part):
    """FLV milliseconds of the last video sample of a part (track 1), from its moof."""
    offset = 0
    while offset + 8 <= len(part):
        size, kind = struct.unpack(">I4s", part[offset:offset + 8])
        if kind == b"moof":
            moof = part[offset + 8:offset + size]
            at = 0
            while at + 8 <= len(moof):
                box_size, box = struct.unpack(">I4s", moof[at:at + 8])
                if box == b"traf":
                    traf = moof[at + 8:at + box_size]
                    track, base, durations = None, None, []
                    t = 0
                    while t + 8 <= len(traf):
                        s, b = struct.unpack(">I4s", traf[t:t + 8])
                        body = traf[t + 8:t + s]
                        if b == b"tfhd":
                            track = struct.unpack(">I", body[4:8])[0]
                        elif b == b"tfdt":
                            base = struct.unpack(">Q", body[4:12])[0]
                        elif b == b"trun":
                            flags = struct.unpack(">I", body[:4])[0] & 0xFFFFFF
                            count = struct.unpack(">I", body[4:8])[0]
                            p = 8 + (4 if flags & 1 else 0) + (4 if flags & 4 else 0)
                            step = sum(4 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
                            for _ in range(count):
                                durations.append(struct.unpack(">I", body[p:p + 4])[0])
                                p += step
                        t += s
                    if track == 1:
                        return round((base + sum(durations[:-1]) - OFFSET) / 90)
                at += box_size
        offset += size
    raise ValueError("no video track in the part")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(server, clip, count, seconds, work, processes):
    stream = server.create_stream(latency_mode="low", reconnect_window=0)
    pid = stream["playback_ids"][0]["id"]
    sends = work / f"sends-{count}.json"
    publisher = subprocess.Popen([sys.executable, __file__, "--publish", str(server.rtmp_port), stream["stream_key"],
                                  str(clip), str(seconds + 12), str(sends)])
    base = f"{server.plain_url}/{pid}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/index.m3u8", timeout=2).read()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise SystemExit(f"no playlist for the {count}-client run:\n{server.log_text()[-3000:]}")
            time.sleep(0.2)
    logs = clients(server.http_port, f"/{pid}/index.m3u8", count, seconds, min(processes, count))
    # While the broadcast is live (parts stay in memory), each part seen: its last video frame.
    prefix = re.search(r'URI="([^"]+)-p\d+\.m4s"', urllib.request.urlopen(f"{base}/index.m3u8").read().decode()).group(1)
    last_frames = {}
    for index in sorted({index for log in logs for index, _ in log}):
        try:
            last_frames[index] = last_frame_ms(urllib.request.urlopen(f"{base}/{prefix}-p{index}.m4s", timeout=5).read())
        except Exception:
            last_frames[index] = None
    publisher.wait(timeout=seconds + 60)
    sent = {int(k): v for k, v in json.loads(sends.read_text()).items()}
    delays = [(received - sent[last_frames[index]]) * 1000 for log in logs for index, received in log
              if last_frames.get(index) is not None and last_frames[index] in sent]
    if not delays:
        raise SystemExit(f"no part delivery measured with {count} clients")
    return {"clients": count, "answers": len(delays), "parts": sum(v is not None for v in last_frames.values()),
            "p50": statistics.median(delays), "p99": percentile(delays, 0.99), "max": max(delays)}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--publish":
        port, key, clip, seconds, out = sys.argv[2:7]
        asyncio.run(publish(int(port), key, clip, float(seconds), out))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,100,1000")
    # Parts stay in memory about 15 s: every part seen is fetched (for its last frame) right after a row.
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--client-processes", type=int, default=4, help="processes the blocked clients are spread over")
    parser.add_argument("--onair", default=os.environ.get("ONAIR") or str(ROOT / ".build/release/onair"))
    parser.add_argument("--out", default=str(ROOT / "bench/part_delivery.md"))
    args = parser.parse_args()
    conftest.ONAIR = args.onair
    work = Path(tempfile.mkdtemp(prefix="onair-parts-"))
    clip = conftest.make_clip("av", 60)
    server = conftest.Onair(work, http={"max_connections": 5000}, max_held_requests=5000).start()
    rows = []
    try:
        for count in [int(c) for c in args.clients.split(",")]:
            row = measure(server, clip, count, args.seconds, work, args.client_processes)
            print(f"{count:>5} clients: p50 {row['p50']:.1f} ms  p99 {row['p99']:.1f} ms  max {row['max']:.1f} ms"
                  f"  ({row['answers']} answers, {row['parts']} parts)", flush=True)
            rows.append(row)
    finally:
        server.stop()
    lines = ["# LL-HLS part delivery delay", "",
             f"`{' '.join(['.venv/bin/python', 'bench/part_delivery.py'] + sys.argv[1:])}` on {time.strftime('%Y-%m-%d %H:%M')}, "
             f"{os.cpu_count()} CPUs, release onair, loopback, HTTP/1.1 keep-alive, {args.seconds} s per row.", "",
             "From the publisher handing a part's last video frame to the kernel to a blocked client having the",
             "whole playlist that lists the part (`_HLS_msn`/`_HLS_part` for the next part, as hls.js asks). Goal:",
             "p99 under 50 ms with 1,000 clients.", "",
             "| blocked clients | answers | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
    lines += [f"| {r['clients']} | {r['answers']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |" for r in rows]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
