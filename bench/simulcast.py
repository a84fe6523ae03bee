#!/usr/bin/env python3
"""Simulcast targets (issue 16): the CPU of one stream with 0, 1 and 3 targets, and the delay a target adds,
each beside nginx-rtmp's `push` measured in the same run.

Method. One real-time publish of a 1280x720 30 fps H.264 3 Mb/s + AAC clip (conftest.make_clip) from a
Python RTMP publisher (Tests/EndToEndTests/rtmp_client.py), which notes the monotonic time each video
tag's last byte was handed to the socket. The targets are RTMP servers written here (`Sink`, one thread
per connection in this process): simple handshake, _result to connect/releaseStream/FCPublish/
createStream, onStatus NetStream.Publish.Start to publish, then every chunk read (Set Chunk Size
honoured, fmt 0/1/2/3, extended timestamps) and, per video message, its RTMP timestamp and the
monotonic time its last chunk arrived. A frame is recognised at the target by the last 32 bytes of its
payload (the end of its slice data, which a relay passes on untouched), not by its timestamp, so a relay
that shifted timestamps would still be measured right; the shift seen is reported (onair keeps the
broadcast's own timestamps: 0 ms).

- **delay** = target arrival - publisher send, same machine, same clock. It includes the server's own
  read of the frame from its publisher, which on loopback is a memcpy away (tens of microseconds), so it
  is the delay the target adds. p50/p99/max over the frames sent in the measured window, all targets
  pooled; a frame that never arrived within 1 s of the window's end counts as lost.
- **CPU**: the server's utime+stime (/proc/PID/stat; nginx: master and workers) over a `--window` s
  steady stretch that begins `--settle` s after every target is broadcasting (onair: the API says
  `broadcasting` and the sink has video; nginx: the sink has video), so the burst of the GOP onair keeps
  for a target that connects late is outside it. CPU s per s for 0, 1 and 3 targets; the cost of a
  target, cpu1 - cpu0 and (cpu3 - cpu0) / 3, against the ingest itself, cpu0 (goal: below 1.00x).

Anchor: Debian's nginx + libnginx-mod-rtmp as bench/run.py runs it (`live on`, HLS on, so that its ingest
does what onair's does), with one `push rtmp://127.0.0.1:PORT/app/KEY;` per target to the same sinks.
The runs alternate onair, nginx for each target count, each on a fresh server.

    .venv/bin/python bench/simulcast.py [--targets 0,1,3] [--seconds 40] [--window 25]

Writes bench/simulcast.md.
"""
import argparse
import collections
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "Tests/EndToEndTests"))
import conftest  # noqa: E402
import rtmp_client  # noqa: E402
import run as bench  # noqa: E402  (OnairServer, NginxServer, BenchFailure, percentile, machine_info)

TAIL = 32  # bytes of a video payload that identify its frame
API = "/video/v1/live-streams"


def is_frame(payload):
    """A video message with a picture (not an AVC sequence header)."""
    return len(payload) > 5 + TAIL and not (payload[0] & 0x0F == 7 and payload[1] == 0)


def read(reader, count):
    data = reader.read(count)
    if data is None or len(data) < count:
        raise EOFError
    return data


class ChunkStream:
    __slots__ = ("timestamp", "delta", "length", "type", "msid", "extended", "body")

    def __init__(self):
        self.timestamp = self.delta = self.length = self.type = self.msid = 0
        self.extended, self.body = False, bytearray()


class Sink:
    """A minimal RTMP server that takes publishes and records (RTMP timestamp, arrival, payload tail) per frame."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frames, self.publishes, self.errors, self.connections = [], 0, [], []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self.handle, args=(connection,), daemon=True).start()

    def close(self):
        self.listener.close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def handle(self, connection):
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.settimeout(60)
        reader = connection.makefile("rb", buffering=256 * 1024)
        try:
            self.session(connection, reader)
        except (EOFError, OSError):
            pass  # the peer closed (the end of a run) or we did
        except (ValueError, IndexError, struct.error) as error:
            self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def session(self, connection, reader):
        c0c1 = read(reader, 1 + 1536)
        if c0c1[0] != 3:
            raise ValueError(f"handshake version {c0c1[0]}, not 3")
        s1 = struct.pack(">I", 0) + bytes(4) + os.urandom(1528)  # version 0: the simple handshake
        connection.sendall(b"\x03" + s1 + c0c1[1:])  # S0 S1 S2 (S2 echoes C1)
        read(reader, 1536)  # C2
        chunk_size, streams = 128, {}
        while True:
            basic = read(reader, 1)[0]
            fmt, csid = basic >> 6, basic & 0x3F
            if csid == 0:
                csid = 64 + read(reader, 1)[0]
            elif csid == 1:
                extra = read(reader, 2)
                csid = 64 + extra[0] + 256 * extra[1]
            stream = streams.get(csid)
            if stream is None:
                if fmt != 0:
                    raise ValueError(f"chunk stream {csid} begins with a fmt {fmt} chunk")
                stream = streams[csid] = ChunkStream()
            starts = not stream.body
            if fmt <= 2:
                if stream.body:
                    raise ValueError(f"a fmt {fmt} header in the middle of a message on chunk stream {csid}")
                header = read(reader, (11, 7, 3)[fmt])
                field = int.from_bytes(header[:3], "big")
                if fmt <= 1:
                    stream.length, stream.type = int.from_bytes(header[3:6], "big"), header[6]
                if fmt == 0:
                    stream.msid = struct.unpack("<I", header[7:11])[0]
                stream.extended = field == 0xFFFFFF
                if stream.extended:
                    field = struct.unpack(">I", read(reader, 4))[0]
                if fmt == 0:
                    stream.timestamp = stream.delta = field  # a fmt 3 message after it reuses it as the delta (5.3.1.2.4)
                else:
                    stream.delta, stream.timestamp = field, (stream.timestamp + field) & 0xFFFFFFFF
            else:
                if stream.extended:
                    read(reader, 4)  # the extended timestamp, repeated on fmt 3 chunks (as onair, FMS, librtmp send it)
                if starts:
                    stream.timestamp = (stream.timestamp + stream.delta) & 0xFFFFFFFF
            stream.body += read(reader, min(chunk_size, stream.length - len(stream.body)))
            if len(stream.body) < stream.length:
                continue
            arrival = time.monotonic()
            payload, stream.body = bytes(stream.body), bytearray()
            if stream.type == 9:
                if is_frame(payload):
                    self.frames.append((stream.timestamp, arrival, payload[-TAIL:]))
            elif stream.type == 1:
                size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
                if not 1 <= size <= 0xFFFFFF:
                    raise ValueError(f"Set Chunk Size {size}")
                chunk_size = size
            elif stream.type in (20, 17):
                self.command(connection, payload[1:] if stream.type == 17 else payload, stream.msid)

    def command(self, connection, payload, msid):
        if payload[:1] != b"\x02":
            raise ValueError(f"a command that does not begin with its name: {payload[:16]!r}")
        length = int.from_bytes(payload[1:3], "big")
        name, rest = payload[3:3 + length].decode(errors="replace"), payload[3 + length:]
        txn = struct.unpack(">d", rest[1:9])[0] if rest[:1] == b"\x00" else 0.0

        def send(csid, stream_id, *values):
            connection.sendall(rtmp_client.chunked(csid, 20, stream_id, b"".join(rtmp_client.amf0(v) for v in values)))

        if name == "connect":
            send(3, 0, "_result", txn, {"fmsVer": "FMS/3,0,1,123", "capabilities": 31},
                 {"level": "status", "code": "NetConnection.Connect.Success", "description": "Connection succeeded.", "objectEncoding": 0})
        elif name == "createStream":
            send(3, 0, "_result", txn, None, 1)
        elif name == "publish":
            self.publishes += 1
            send(5, msid or 1, "onStatus", 0, None, {"level": "status", "code": "NetStream.Publish.Start", "description": "publishing"})
        elif name in ("releaseStream", "FCPublish") and txn:
            send(3, 0, "_result", txn, None, None)


class Publisher(threading.Thread):
    """Pushes the clip's FLV tags in real time on a publishing socket; notes each frame's send time by its tail."""

    def __init__(self, port, key, tags):
        super().__init__(daemon=True)
        self.tags, self.sent, self.error, self.finished = tags, {}, None, False
        tails = collections.Counter(payload[-TAIL:] for kind, _, payload in tags if kind == 9 and is_frame(payload))
        self.ambiguous = {tail for tail, seen in tails.items() if seen > 1}  # left out of the measure
        self.stopping = threading.Event()
        self.sock = rtmp_client.publish(port, key)  # raises (AssertionError) with what the server said
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run(self):
        try:
            self.sock.sendall(rtmp_client.chunked(2, 1, 0, struct.pack(">I", 4096)))  # Set Chunk Size
            started = time.monotonic()
            for kind, timestamp, payload in self.tags:
                if self.stopping.wait(max(0.0, started + timestamp / 1000 - time.monotonic())):
                    return
                self.sock.sendall(rtmp_client.chunked({8: 4, 9: 6, 18: 5}[kind], kind, 1, payload, timestamp, 4096))
                if kind == 9 and is_frame(payload) and payload[-TAIL:] not in self.ambiguous:
                    self.sent[payload[-TAIL:]] = (time.monotonic(), timestamp)
            self.finished = True
        except OSError as error:
            self.error = error

    def close(self):
        self.stopping.set()
        self.join(timeout=5)
        self.sock.close()


def wait_for(condition, timeout, what, server):
    deadline = time.monotonic() + timeout
    while not condition():
        server.check(f"the wait for {what}")
        if time.monotonic() > deadline:
            raise bench.BenchFailure(f"{what}: not within {timeout} s\n{server.log_tail()}")
        time.sleep(0.1)


def measure(kind, count, tags, args, work):
    """One fresh server, one publish, `count` sinks: CPU s/s over the window and the frames' delays."""
    sinks = [Sink() for _ in range(count)]
    server = publisher = None
    try:
        if kind == "onair":
            (work / f"onair-{count}").mkdir()
            server = bench.OnairServer(work / f"onair-{count}", args.onair)
            server.start()
            session = requests.Session()
            session.trust_env = False  # REQUESTS_CA_BUNDLE would override the server's own certificate
            session.verify, session.auth = str(server.conf.certificate), server.conf.write_token
            base = f"{server.conf.base_url}{API}"
            body = {"playback_policies": ["public"], "reconnect_window": 0,
                    "simulcast_targets": [{"url": f"rtmp://127.0.0.1:{sink.port}/app", "stream_key": f"sink{i}"} for i, sink in enumerate(sinks)]}
            response = session.post(base, json=body, timeout=10)
            if response.status_code != 201:
                raise bench.BenchFailure(f"POST {API} answered {response.status_code}: {response.text[:500]}")
            stream = response.json()["data"]
            key = stream["stream_key"]

            def state():
                got = session.get(f"{base}/{stream['id']}", timeout=10)
                if got.status_code != 200:
                    raise bench.BenchFailure(f"GET {API}/{stream['id']} answered {got.status_code}: {got.text[:500]}")
                data = got.json()["data"]
                return data["status"], [t["status"] for t in data.get("simulcast_targets", [])]

            def broadcasting():
                status, targets = state()
                return status == "active" and targets == ["broadcasting"] * count
        else:
            certificate, tls_key = conftest.tls_certificate()
            server = bench.NginxServer(work / f"nginx-{count}", certificate, tls_key)
            pushes = "".join(f"\n            push rtmp://127.0.0.1:{sink.port}/app/sink{i};" for i, sink in enumerate(sinks))
            server.config.write_text(server.config.read_text().replace("live on;", "live on;" + pushes, 1))
            server.start()
            key, broadcasting = "bench", lambda: True  # nginx has no API: the sinks say it
        publisher = Publisher(server.rtmp_port, key, tags)
        publisher.start()
        wait_for(lambda: broadcasting() and all(sink.frames for sink in sinks), args.ready_timeout,
                 f"{kind}: the stream live and {count} target(s) receiving video", server)
        time.sleep(args.settle)
        started, cpu_before = time.monotonic(), server.cpu()
        time.sleep(args.window)
        cpu, ended = server.cpu() - cpu_before, time.monotonic()
        server.check("the measured window")
        if publisher.error or publisher.finished or not publisher.is_alive():
            raise bench.BenchFailure(f"{kind}: the publisher stopped within the window ({publisher.error or 'the clip ended'}); "
                                     f"use a longer --seconds than ready + --settle + --window")
        if kind == "onair" and not broadcasting():
            raise bench.BenchFailure(f"onair: the stream or a target left broadcasting during the window: {state()}\n{server.log_tail()}")
        time.sleep(1.0)  # the window's last frames on their way
        sent = {tail: value for tail, value in list(publisher.sent.items()) if started <= value[0] <= ended}
        delays, shifts, lost = [], set(), 0
        for sink in sinks:
            if sink.errors:
                raise bench.BenchFailure(f"{kind}: a target read what RTMP does not allow: {sink.errors[:3]}")
            if sink.publishes != 1:
                raise bench.BenchFailure(f"{kind}: a target saw {sink.publishes} publishes, not 1 (a reconnect during the run)")
            arrived = {}
            for timestamp, arrival, tail in list(sink.frames):
                arrived.setdefault(tail, (arrival, timestamp))
            for tail, (at, timestamp) in sent.items():
                if tail in arrived:
                    delays.append(arrived[tail][0] - at)
                    shifts.add(arrived[tail][1] - timestamp)
                else:
                    lost += 1
        if count and len(delays) < 0.9 * count * len(sent):
            raise bench.BenchFailure(f"{kind}: only {len(delays)} of {count * len(sent)} frames reached the targets")
        return {"cpu": cpu / (ended - started), "delays": delays, "lost": lost, "sent": count * len(sent), "shifts": sorted(shifts)}
    finally:
        failing = sys.exc_info()[1] is not None
        if publisher:
            publisher.close()
        try:
            if server:
                server.stop()
        except bench.BenchFailure as error:
            if not failing:
                raise
            print(f"bench: and stopping {kind} failed too: {error}", file=sys.stderr)
        finally:
            for sink in sinks:
                sink.close()


def ms(value):
    return f"{value * 1000:.1f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="0,1,3", help="target counts (0 is needed for the per-target cost)")
    parser.add_argument("--seconds", type=int, default=40, help="length of the clip published in real time")
    parser.add_argument("--window", type=float, default=25, help="seconds measured")
    parser.add_argument("--settle", type=float, default=3, help="seconds after every target is broadcasting")
    parser.add_argument("--ready-timeout", type=float, default=20)
    parser.add_argument("--servers", default="onair,nginx")
    parser.add_argument("--onair", default=os.environ.get("ONAIR") or str(ROOT / ".build/release/onair"))
    parser.add_argument("--output", default=str(BENCH / "simulcast.md"))
    args = parser.parse_args()
    counts = [int(x) for x in args.targets.split(",") if x.strip()]
    kinds = [k for k in args.servers.split(",") if k]
    if args.settle + args.window + 5 > args.seconds:
        sys.exit(f"bench: --seconds {args.seconds} is too short for --settle {args.settle} + --window {args.window} + start-up")
    if "nginx" in kinds and not (shutil.which("nginx") and Path(bench.NGINX_MODULE).exists()):
        sys.exit(f"bench: nginx and {bench.NGINX_MODULE} are required (make bench installs them)")
    if "onair" in kinds and not Path(args.onair).exists():
        sys.exit(f"bench: {args.onair} is missing (swift build -c release --product onair)")
    sys.setswitchinterval(0.0005)  # the sinks' and the publisher's threads take the GIL in turn quickly
    tags = rtmp_client.read_flv(conftest.make_clip("av", args.seconds))
    work = Path(tempfile.mkdtemp(prefix="onair-simulcast-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    info, results = bench.machine_info(), {}
    try:
        for count in counts:
            for kind in kinds:
                bench.log(f"{kind}, {count} target(s): {args.seconds} s clip in real time, {args.window:.0f} s measured")
                r = results[kind, count] = measure(kind, count, tags, args, work)
                delay = (f"; delay p50 {ms(bench.percentile(r['delays'], 50))} p99 {ms(bench.percentile(r['delays'], 99))}"
                         f" ({len(r['delays'])} frames, {r['lost']} lost)") if count else ""
                bench.log(f"  CPU {r['cpu']:.4f} s/s{delay}")
    except Exception as error:  # noqa: BLE001 -- a server or harness failure refuses the report
        what = "" if isinstance(error, (bench.BenchFailure, AssertionError)) else f"harness error: {type(error).__name__}: "
        sys.exit(f"\nbench: NOT reporting: {what}{error}\nbench: logs kept in {work}")
    shutil.rmtree(work, ignore_errors=True)

    def cpu(kind, count):
        return results[kind, count]["cpu"] if (kind, count) in results else None

    def cell(value, fmt="{:.4f}"):
        return "–" if value is None else fmt.format(value)

    def ratio(a, b):
        return "–" if a is None or b is None or b <= 0 else f"{a / b:.2f}x"

    lines = ["# Simulcast targets: CPU per target and the delay a target adds", "",
             f"`.venv/bin/python bench/simulcast.py{''.join(' ' + a for a in sys.argv[1:])}` on {time.strftime('%Y-%m-%d')},"
             f" onair `{os.path.relpath(args.onair, ROOT)}`, loopback, {info['nproc']} CPUs ({info['cpu']}) shared by the server,"
             " the publisher and the targets. One real-time 1280x720 30 fps H.264 3 Mb/s + AAC publish (Python RTMP publisher);"
             " each target an RTMP server in the bench process. Anchor: nginx-rtmp (`live on`, HLS on) with one `push` per target"
             " to the same targets, in the same run.", "",
             f"CPU: server utime+stime (/proc/PID/stat; nginx: master and workers) over {args.window:g} s, {args.settle:g} s after"
             f" every target is broadcasting; resolution ±{2 / bench.TICKS / args.window:.4f} s/s (clock ticks of 1/{bench.TICKS} s).", "",
             "| targets | onair CPU (s/s) | nginx-rtmp CPU (s/s) | onair / nginx |", "|---|---:|---:|---:|"]
    for count in counts:
        lines.append(f"| {count} | {cell(cpu('onair', count))} | {cell(cpu('nginx', count))} | {ratio(cpu('onair', count), cpu('nginx', count))} |")
    if 0 in counts:
        lines += ["", "| cost of a target, against the ingest itself (0 targets) | onair (s/s) | onair / ingest | nginx-rtmp (s/s) | nginx / its ingest |",
                  "|---|---:|---:|---:|---:|",
                  f"| ingest (0 targets) | {cell(cpu('onair', 0))} | 1.00x | {cell(cpu('nginx', 0))} | 1.00x |"]
        verdicts = []
        for n, label in ((1, "one target: cpu1 − cpu0"), (3, "each of three: (cpu3 − cpu0) / 3")):
            if n not in counts:
                continue
            costs = {k: (cpu(k, n) - cpu(k, 0)) / n if cpu(k, n) is not None and cpu(k, 0) is not None else None for k in ("onair", "nginx")}
            lines.append(f"| {label} | {cell(costs['onair'])} | {ratio(costs['onair'], cpu('onair', 0))} | {cell(costs['nginx'])} |"
                         f" {ratio(costs['nginx'], cpu('nginx', 0))} |")
            if costs["onair"] is not None and cpu("onair", 0):
                verdicts.append(f"{label.split(':')[0]} {costs['onair'] / cpu('onair', 0):.2f}x, "
                                f"{'met' if costs['onair'] < cpu('onair', 0) else 'NOT met'}")
        if verdicts:
            lines += ["", "Goal, each target costs less than the ingest itself (below 1.00x): " + "; ".join(verdicts) + "."]
    delayed = [n for n in counts if n > 0]
    if delayed:
        lines += ["", "Delay a target adds: arrival of a frame's last chunk at the target − the publisher handing its last byte to the"
                  " socket (same clock). It includes the server's read of the frame from its publisher, negligible on loopback."
                  " Frames of the measured window, all targets pooled.", "",
                  "| targets | onair p50 | onair p99 | onair max | nginx-rtmp p50 | nginx-rtmp p99 | nginx-rtmp max | onair / nginx (p99) | frames (lost) onair, nginx |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for n in delayed:
            row, p99 = [f"| {n}"], {}
            for kind in ("onair", "nginx"):
                r = results.get((kind, n))
                if r:
                    p99[kind] = bench.percentile(r["delays"], 99)
                    row += [ms(bench.percentile(r["delays"], 50)), ms(p99[kind]), ms(max(r["delays"]))]
                else:
                    row += ["–"] * 3
            frames = ", ".join(f"{results[k, n]['sent']} ({results[k, n]['lost']})" if (k, n) in results else "–" for k in ("onair", "nginx"))
            lines.append(" | ".join(row + [ratio(p99.get("onair"), p99.get("nginx")), frames]) + " |")
        shifts = {k: sorted({s for n in delayed if (k, n) in results for s in results[k, n]["shifts"]}) for k in kinds}
        lines += ["", "Frames are matched by the last 32 bytes of their payload; target timestamp − publisher timestamp seen: "
                  + "; ".join(f"{k} {shifts[k] if len(shifts[k]) <= 5 else shifts[k][:5] + ['…']} ms" for k in kinds) + "."]
    lines.append("")
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))
    bench.log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
