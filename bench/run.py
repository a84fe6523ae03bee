#!/usr/bin/env python3
"""onair vs nginx-rtmp, side by side on loopback, in one run (issue 5).

Starts the release onair and Debian's nginx + libnginx-mod-rtmp with the same HLS settings (2 s segments,
6-segment window, tmpfs under /dev/shm), pushes the same inputs to both and reports onair/nginx ratios:

  startup      exec -> READY=1 (onair, stand-in NOTIFY_SOCKET) and exec -> listening (both)
  loadgen      the generator (bench/rtmp_load.py) checked against ffmpeg for one stream on each server
  remux        the 60 s 720p clip pushed at full speed with ffmpeg -c copy, N times: server CPU s per stream-minute
  concurrency  K real-time publishers for T s (one Python process): CPU %, peak RSS, lost segments,
               segment publish delay p50/p99 (playlist polled from outside; delay = appearance - send time
               of the closing keyframe)
  fan-out      wrk against a live playlist and a segment, TLS and plain HTTP: requests/s, MB/s
  memory       RSS idle and per active stream

Refuses to report (exit 1) when either server failed. Writes bench/results.md.

    .venv/bin/python bench/run.py --smoke
    .venv/bin/python bench/run.py --publishers 50,100,200 --seconds 60
"""
import argparse
import base64
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import urllib.request
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT / "Tests/EndToEndTests"))
sys.path.insert(0, str(BENCH))
import conftest  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SEGMENT = 2
WINDOW = 6
NGINX_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


class BenchFailure(Exception):
    """A server failed: the harness refuses to report."""


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------- /proc

def proc_cpu(pid):
    """utime+stime of a process (all its threads), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_runtime(pid):
    """Time on CPU of every live thread of a process, from /proc/PID/task/*/schedstat (nanoseconds), seconds."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def proc_status(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def proc_pss(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid):
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return sorted(out)


# ---------------------------------------------------------------------------------------------- servers

class Server:
    name = "?"
    process = None
    rtmp_port = https_port = http_port = 0

    def pids(self):
        raise NotImplementedError

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def check(self, during):
        if not self.alive():
            raise BenchFailure(f"{self.name} exited ({self.process.returncode if self.process else '?'}) during {during}:\n"
                               + self.log_tail())
        self.verify_processes(during)

    def verify_processes(self, during):
        pass

    def cpu(self):
        return sum(proc_cpu(pid) for pid in self.pids())

    def runtime(self):
        return sum(proc_runtime(pid) for pid in self.pids())

    def rss(self):
        return sum(proc_status(pid, "VmRSS") for pid in self.pids())

    def pss(self):
        return sum(proc_pss(pid) for pid in self.pids())

    def hwm(self):
        return sum(proc_status(pid, "VmHWM") for pid in self.pids())

    def reset_hwm(self):
        for pid in self.pids():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass

    def wait_listening(self, deadline):
        waiting = [self.rtmp_port, self.https_port, self.http_port]
        while waiting:
            if time.monotonic() > deadline:
                raise BenchFailure(f"{self.name} did not listen on {waiting}:\n{self.log_tail()}")
            if self.process.poll() is not None:
                raise BenchFailure(f"{self.name} exited {self.process.returncode} at start:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2):
                    waiting.pop(0)
            except OSError:
                time.sleep(0.001)
        return time.monotonic()


class OnairServer(Server):
    name = "onair"

    def __init__(self, root, binary, recordings=None):
        conftest.ONAIR = binary
        self.binary = binary
        self.conf = conftest.Onair(root, rtmp={"max_connections": 10000, "max_publishers": 10000}, recordings=recordings,
                                   segment_duration=SEGMENT, playlist_length=WINDOW, delete_grace_segments=WINDOW)
        self.rtmp_port, self.https_port, self.http_port = self.conf.rtmp_port, self.conf.https_port, self.conf.http_port
        self.hls_dir = self.conf.hls_dir
        self.root = root
        self.notify_path = str(root / "notify.sock")
        self.log_file = None

    def start(self):
        """Returns (exec -> READY=1, exec -> listening) in seconds."""
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        notify.bind(self.notify_path)
        self.log_file = open(self.root / "onair.log", "ab")
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        env.pop("WATCHDOG_USEC", None)
        started = time.monotonic()
        self.process = subprocess.Popen([self.binary, "serve", "--config", str(self.conf.config)], env=env,
                                        stdout=self.log_file, stderr=subprocess.STDOUT)
        ready, deadline = None, started + 20
        notify.settimeout(0.05)
        while ready is None:
            if time.monotonic() > deadline:
                raise BenchFailure(f"onair sent no READY=1 within 20 s:\n{self.log_tail()}")
            if self.process.poll() is not None:
                raise BenchFailure(f"onair exited {self.process.returncode} at start:\n{self.log_tail()}")
            try:
                text = notify.recv(4096).decode()
                if "READY=1" in text.split("\n"):
                    ready = time.monotonic()
            except socket.timeout:
                pass
        listening = self.wait_listening(deadline)
        # Keep reading the socket as systemd does: onair refreshes STATUS= periodically, and a unix datagram
        # socket nobody reads fills up (net.unix.max_dgram_qlen, 10) and then blocks the sender.
        self.notify, self.notify_messages = notify, []
        notify.settimeout(0.2)
        self.notify_thread = threading.Thread(target=self._drain_notify, args=(notify, self.notify_messages), daemon=True)
        self.notify_thread.start()
        return ready - started, listening - started

    def _drain_notify(self, notify, messages):
        while True:
            try:
                messages.append(notify.recv(4096).decode())
            except socket.timeout:
                continue
            except OSError:
                return

    def stop(self):
        if not self.process:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                sockets = subprocess.run(["ss", "-tanp"], capture_output=True, text=True).stdout.splitlines()
                mine = [line for line in sockets if f"pid={self.process.pid}," in line]
                self.process.kill()
                self.process.wait()
                raise BenchFailure("onair did not stop within 15 s of SIGTERM; its TCP sockets then:\n" + "\n".join(mine[:40])
                                   + "\n" + self.log_tail()[-1500:])
        else:
            code = self.process.returncode
        self.notify.close()
        self.notify_thread.join()
        self.log_file.close()
        if code != 0:
            raise BenchFailure(f"onair exited {code}:\n{self.log_tail()}")

    def pids(self):
        return [self.process.pid]

    def log_tail(self):
        path = self.root / "onair.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def version(self):
        return subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout.strip()

    # streams: created over the API (HTTPS, Basic auth), kept-alive connection
    def create_streams(self, count):
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context, timeout=30)
        auth = "Basic " + base64.b64encode(f"{self.conf.write_token[0]}:{self.conf.write_token[1]}".encode()).decode()
        body = json.dumps({"playback_policy": ["public"], "reconnect_window": 0})
        streams = []
        for _ in range(count):
            connection.request("POST", "/video/v1/live-streams", body=body,
                               headers={"Authorization": auth, "Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            if response.status != 201:
                raise BenchFailure(f"onair: creating a live stream answered {response.status}: {data[:300]!r}")
            stream = json.loads(data)["data"]
            streams.append({"key": stream["stream_key"], "playlist": self.hls_dir / stream["id"] / "index.m3u8",
                            "url_path": f"/{stream['playback_ids'][0]['id']}"})
        connection.close()
        return streams

    def url_path(self, stream):
        return stream["url_path"]


class NginxServer(Server):
    name = "nginx"

    def __init__(self, root, certificate, key):
        self.root = root
        self.rtmp_port, self.https_port, self.http_port = (conftest.free_port() for _ in range(3))
        self.hls_dir = root / "hls"
        self.hls_dir.mkdir(parents=True, exist_ok=True)
        self.config = root / "nginx.conf"
        self.error_log = root / "error.log"
        user = "user root root;" if os.geteuid() == 0 else ""
        self.config.write_text(f"""# nginx + libnginx-mod-rtmp anchor for bench/run.py (Debian defaults otherwise)
load_module {NGINX_MODULE};
daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 16384;
{user}
pid {root}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 8192; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.rtmp_port};
        chunk_size 4096;
        application app {{
            live on;
            hls on;
            hls_path {self.hls_dir};
            hls_nested on;
            hls_fragment {SEGMENT}s;
            hls_playlist_length {SEGMENT * WINDOW}s;
        }}
    }}
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    server {{
        listen 127.0.0.1:{self.https_port} ssl;
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        root {self.hls_dir};
    }}
    server {{
        listen 127.0.0.1:{self.http_port};
        root {self.hls_dir};
    }}
}}
""")
        self.workers = []

    def start(self):
        """Returns exec -> listening in seconds."""
        started = time.monotonic()
        self.process = subprocess.Popen(["nginx", "-p", str(self.root), "-c", str(self.config), "-e", str(self.error_log)],
                                        stdout=subprocess.DEVNULL, stderr=open(self.root / "stderr.log", "ab"))
        listening = self.wait_listening(started + 20)
        # workers, then the cache manager: wait until the set of children holds still for 300 ms
        deadline, stable_since = time.monotonic() + 5, time.monotonic()
        while time.monotonic() < deadline:
            now = children(self.process.pid)
            if now != self.workers:
                self.workers, stable_since = now, time.monotonic()
            elif self.workers and time.monotonic() - stable_since >= 0.3:
                break
            time.sleep(0.01)
        if not self.workers:
            raise BenchFailure("nginx started no worker process")
        return listening - started

    def pids(self):
        return [self.process.pid] + self.workers

    def verify_processes(self, during):
        now = children(self.process.pid)
        if set(self.workers) - set(now):
            raise BenchFailure(f"nginx worker processes changed during {during} ({self.workers} -> {now}): "
                               f"a worker died\n{self.log_tail()}")

    def stop(self):
        if not self.process:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise BenchFailure("nginx did not stop within 15 s of SIGTERM")
        else:
            code = self.process.returncode
        if code != 0:
            raise BenchFailure(f"nginx exited {code}:\n{self.log_tail()}")
        crit = [line for line in self.error_log.read_text(errors="replace").splitlines()
                if re.search(r"\[(alert|crit|emerg)\]", line)]
        if crit:
            raise BenchFailure("nginx logged critical errors:\n" + "\n".join(crit[-10:]))

    def log_tail(self):
        return self.error_log.read_text(errors="replace")[-3000:] if self.error_log.exists() else ""

    def version(self):
        out = subprocess.run(["nginx", "-V"], capture_output=True, text=True)
        return (out.stdout + out.stderr).splitlines()[0].strip()

    _counter = 0

    def create_streams(self, count):
        streams = []
        for _ in range(count):
            NginxServer._counter += 1
            key = f"bench{NginxServer._counter:05d}"
            streams.append({"key": key, "playlist": self.hls_dir / key / "index.m3u8", "url_path": f"/{key}"})
        return streams


# ---------------------------------------------------------------------------------------------- playlists

def parse_playlist(text):
    """(media sequence, [(uri, duration)], endlist)."""
    sequence, entries, duration = 0, [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            entries.append((line, duration))
            duration = None
    return sequence, entries, "#EXT-X-ENDLIST" in text


class PlaylistPoller(threading.Thread):
    """Polls playlists (stat; re-read on change) and records when each segment first appears."""

    def __init__(self, paths, interval=0.002):
        super().__init__(daemon=True)
        self.paths = list(paths)
        self.interval = interval
        self.seen = {str(p): {} for p in self.paths}  # path -> {sequence: (uri, duration, appeared)}
        self.stopping = threading.Event()
        self.sweeps = 0
        self.sweep_max = 0.0

    def run(self):
        state = {}
        while not self.stopping.is_set():
            begin = time.monotonic()
            for path in self.paths:
                key = str(path)
                try:
                    st = os.stat(key)
                except FileNotFoundError:
                    continue
                sig = (st.st_ino, st.st_mtime_ns, st.st_size)
                if state.get(key) == sig:
                    continue
                try:
                    text = Path(key).read_text()
                except FileNotFoundError:
                    continue
                now = time.monotonic()
                state[key] = sig
                sequence, entries, _ = parse_playlist(text)
                record = self.seen[key]
                for index, (uri, duration) in enumerate(entries):
                    if sequence + index not in record:
                        record[sequence + index] = (uri, duration, now)
            self.sweeps += 1
            self.sweep_max = max(self.sweep_max, time.monotonic() - begin)
            time.sleep(self.interval)

    def stop(self):
        self.stopping.set()
        self.join()


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def segment_stats(streams, poller, loadgen):
    """Expected vs present segments and publish delays from the poller's record and the generator's keyframes."""
    delays, expected_total, present_total, lost_streams, unmatched = [], 0, 0, 0, 0
    for stream in streams:
        result = loadgen.get(stream["key"], {})
        keyframes = result.get("keyframes", [])
        expected = len(keyframes)  # every keyframe sent opens a segment (2 s GOP = segment duration)
        record = poller.seen[str(stream["playlist"])]
        present = len(record)
        expected_total += expected
        present_total += min(present, expected)
        if present < expected:
            lost_streams += 1
        if not record:
            continue
        first = min(record)
        cumulative = 0.0
        key_ts = [ts for ts, _ in keyframes]
        for sequence in range(first, max(record) + 1):
            uri, duration, appeared = record.get(sequence, (None, SEGMENT, None))
            cumulative += duration
            if appeared is None:
                continue
            end_ms = keyframes[0][0] + cumulative * 1000 if keyframes else cumulative * 1000
            # the keyframe that closed this segment: the sent keyframe nearest the segment's media end
            best = min(range(len(key_ts)), key=lambda i: abs(key_ts[i] - end_ms), default=None)
            if best is None or best == 0 or abs(key_ts[best] - end_ms) > 150:
                if abs(end_ms - (key_ts[-1] if key_ts else 0)) > 150 and sequence != max(record):
                    unmatched += 1
                continue
            delays.append(appeared - keyframes[best][1])
    return {"expected": expected_total, "present": present_total, "lost": expected_total - present_total,
            "streams_with_loss": lost_streams, "unmatched": unmatched, "delays": delays}


# ---------------------------------------------------------------------------------------------- phases

def run_loadgen(server, streams, seconds, clip, stagger, work):
    keys_file = work / f"keys-{server.name}-{time.monotonic_ns()}.txt"
    keys_file.write_text("\n".join(s["key"] for s in streams) + "\n")
    out = keys_file.with_suffix(".json")
    process = subprocess.Popen([sys.executable, str(BENCH / "rtmp_load.py"), "--port", str(server.rtmp_port),
                                "--keys-file", str(keys_file), "--seconds", str(seconds), "--clip", str(clip),
                                "--stagger", str(stagger), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, out


def finish_loadgen(server, process, out, timeout):
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise BenchFailure(f"load generator against {server.name} did not finish within {timeout:.0f} s")
    results = json.loads(out.read_text()) if out.exists() else {}
    errors = [f"{k}: {r['error']}" for k, r in results.items() if r.get("error")]
    if process.returncode != 0 or errors:
        raise BenchFailure(f"{server.name}: {len(errors)} publisher(s) failed: {'; '.join(errors[:5]) or err[-2000:]}")
    return results


def wait_stable_cpu(server, timeout=5.0):
    """Waits until the server's CPU counter stops moving (two equal 100 ms samples)."""
    last, deadline = server.cpu(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.15)
        now = server.cpu()
        if now == last:
            return now
        last = now
    return last


def phase_loadgen_check(servers, clip, work, seconds=9.9):
    """One stream from ffmpeg and one from the generator, at once, on each server: same segments?"""
    log(f"loadgen check: ffmpeg vs generator, one {seconds} s stream each, on both servers")
    running = []
    for server in servers:
        ff, gen = server.create_streams(2)
        cmd = ["ffmpeg", "-v", "error", "-nostdin", "-re", "-t", str(seconds), "-i", str(clip), "-c", "copy", "-f", "flv",
               f"rtmp://127.0.0.1:{server.rtmp_port}/app/{ff['key']}"]
        ffmpeg = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        process, out = run_loadgen(server, [gen], seconds, clip, 0, work)
        running.append((server, ff, gen, ffmpeg, process, out))
    report = {}
    for server, ff, gen, ffmpeg, process, out in running:
        finish_loadgen(server, process, out, seconds + 30)
        _, err = ffmpeg.communicate(timeout=seconds + 30)
        if ffmpeg.returncode != 0:
            raise BenchFailure(f"ffmpeg publishing to {server.name} failed: {err[-1000:]}")
    time.sleep(2.5)
    for server, ff, gen, *_ in running:
        server.check("the loadgen check")
        lists = []
        for stream in (ff, gen):
            if not stream["playlist"].exists():
                raise BenchFailure(f"{server.name}: no playlist for the loadgen check stream {stream['key']}")
            lists.append([d for _, d in parse_playlist(stream["playlist"].read_text())[1]])
        a, b = lists
        same = len(a) == len(b) and all(abs(x - y) <= 0.05 for x, y in zip(a[:-1], b[:-1])) and abs(a[-1] - b[-1]) <= 0.2
        report[server.name] = {"ffmpeg": a, "generator": b, "same": same}
        log(f"  {server.name}: ffmpeg {a}  generator {b}  {'same' if same else 'DIFFERENT'}")
        if not same:
            raise BenchFailure(f"{server.name}: the load generator's segments differ from ffmpeg's: {a} vs {b}")
    return report


def phase_remux(server, clip, runs, clip_seconds):
    cpu_total, runtime_total, walls = 0.0, 0.0, []
    for index in range(runs):
        (stream,) = server.create_streams(1)
        url = f"rtmp://127.0.0.1:{server.rtmp_port}/app/{stream['key']}"
        before = wait_stable_cpu(server)
        runtime_before = server.runtime()
        started = time.monotonic()
        out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(clip), "-c", "copy", "-f", "flv", url],
                             capture_output=True, text=True, timeout=120)
        walls.append(time.monotonic() - started)
        if out.returncode != 0:
            raise BenchFailure(f"ffmpeg pushing at full speed to {server.name} failed: {out.stderr[-1000:]}")
        after = wait_stable_cpu(server)
        runtime_total += server.runtime() - runtime_before
        server.check("the remux test")
        cpu_total += after - before
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if stream["playlist"].exists() and len(parse_playlist(stream["playlist"].read_text())[1]) >= 3:
                break
            time.sleep(0.05)
        else:
            raise BenchFailure(f"{server.name} wrote no playlist with segments for a full-speed push")
    stream_minutes = runs * clip_seconds / 60
    return {"cpu_s": cpu_total, "runs": runs, "cpu_per_stream_minute": cpu_total / stream_minutes,
            "runtime_s": runtime_total, "runtime_per_stream_minute": runtime_total / stream_minutes,
            "push_wall_s": statistics.median(walls)}


def phase_concurrency(server, publishers, seconds, clip, work):
    streams = server.create_streams(publishers)
    time.sleep(1.0)
    server.check("idle before the concurrency test")
    idle_rss = server.rss()
    server.reset_hwm()
    poller = PlaylistPoller([s["playlist"] for s in streams])
    poller.start()
    cpu_before, wall_before = server.cpu(), time.monotonic()
    process, out = run_loadgen(server, streams, seconds, clip, SEGMENT, work)
    samples = []
    while process.poll() is None:
        time.sleep(0.5)
        try:
            samples.append((time.monotonic() - wall_before, server.rss()))
        except OSError:
            pass
        if not server.alive():
            break
    cpu_after, wall_after = server.cpu(), time.monotonic()
    results = finish_loadgen(server, process, out, 30)
    time.sleep(2 * SEGMENT + 0.5)  # final segments after the publishers hung up
    poller.stop()
    server.check("the concurrency test")
    peak_hwm = server.hwm()
    # RSS with every stream active: the largest sample taken after all had started and before any stopped
    active = [rss for t, rss in samples if SEGMENT + 1.5 <= t <= seconds - 0.5] or [rss for _, rss in samples]
    loaded_rss = max(active) if active else server.rss()
    stats = segment_stats(streams, poller, results)
    lags = [r.get("lag_max", 0) for r in results.values()]
    delays = stats.pop("delays")
    return {"publishers": publishers, "seconds": seconds,
            "cpu_percent": 100 * (cpu_after - cpu_before) / (wall_after - wall_before),
            "idle_rss": idle_rss, "loaded_rss": loaded_rss, "peak_rss": max(peak_hwm, loaded_rss),
            "rss_per_stream": (loaded_rss - idle_rss) / publishers,
            "delay_p50": percentile(delays, 50), "delay_p99": percentile(delays, 99),
            "delay_max": max(delays) if delays else float("nan"), "delay_count": len(delays),
            "generator_lag_max": max(lags) if lags else 0, "poll_sweep_max": poller.sweep_max, **stats}


def http_get(url):
    """One GET (certificate not verified); the body, or BenchFailure unless 200."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return response.read()
    except Exception as error:  # noqa: BLE001
        raise BenchFailure(f"GET {url}: {error}")


def run_wrk(url, seconds, connections=32):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 60)
    text = out.stdout + out.stderr
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
    if out.returncode != 0 or not rate or not transfer:
        raise BenchFailure(f"wrk {url} failed:\n{text[-2000:]}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if bad or (errors and any(int(x) for x in errors.groups())):
        raise BenchFailure(f"wrk {url}: {bad.group(0) if bad else ''} {errors.group(0) if errors else ''}")
    unit = {"B": 1e-6, "KB": 1024 / 1e6, "MB": 1024 ** 2 / 1e6, "GB": 1024 ** 3 / 1e6}[transfer.group(2)]
    return {"rps": float(rate.group(1)), "mbps": float(transfer.group(1)) * unit}


def phase_fanout(servers, clip, seconds, work):
    """One live stream per server (the generator, real time, looping); wrk on its playlist and a segment."""
    live = {}
    for server in servers:
        (stream,) = server.create_streams(1)
        process, out = run_loadgen(server, [stream], seconds * 4 + 40, clip, 0, work)
        live[server.name] = (stream, process, out)
    deadline = time.monotonic() + 30
    for server in servers:
        stream = live[server.name][0]
        while not (stream["playlist"].exists() and len(parse_playlist(stream["playlist"].read_text())[1]) >= 3):
            if time.monotonic() > deadline:
                raise BenchFailure(f"{server.name}: no live playlist for the fan-out test")
            time.sleep(0.1)
    report = {}
    for server in servers:
        stream = live[server.name][0]
        base = stream["url_path"]
        figures, sizes = {}, []
        for label, scheme, port in (("tls", "https", server.https_port), ("http", "http", server.http_port)):
            url = f"{scheme}://127.0.0.1:{port}{base}/index.m3u8"
            http_get(url)
            figures[f"playlist_{label}"] = run_wrk(url, seconds)
            # the newest segment: it stays listed (and on disk) for longer than one wrk run
            segment_uri = parse_playlist(stream["playlist"].read_text())[1][-1][0]
            sizes.append((stream["playlist"].parent / segment_uri).stat().st_size)
            url = f"{scheme}://127.0.0.1:{port}{base}/{segment_uri}"
            if len(http_get(url)) != sizes[-1]:
                raise BenchFailure(f"{server.name}: {url} is not the segment on disk")
            figures[f"segment_{label}"] = run_wrk(url, seconds)
            server.check("the fan-out test")
        figures["segment_bytes"] = statistics.mean(sizes)
        report[server.name] = figures
        log(f"  {server.name}: " + ", ".join(f"{k} {v['rps']:.0f} req/s {v['mbps']:.1f} MB/s"
                                             for k, v in figures.items() if isinstance(v, dict)))
    for server in servers:
        process = live[server.name][1]
        process.terminate()
        process.wait(timeout=10)
    return report


# ---------------------------------------------------------------------------------------------- report

def fmt(value, unit=""):
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 100:
            return f"{value:.0f}{unit}"
        if abs(value) >= 10:
            return f"{value:.1f}{unit}"
        return f"{value:.3f}{unit}" if abs(value) < 1 else f"{value:.2f}{unit}"
    return f"{value}{unit}"


def ratio(a, b):
    return a / b if b else float("nan")


def machine_info():
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": f"{int(mem.split()[1]) // 1024} MiB",
            "kernel": platform.release(), "load_at_start": " ".join(load)}


def build_rows(results, args):
    MB = 1e6
    rows = []  # (section, metric, onair, nginx, ratio, target, met)
    st = results["startup"]
    rows.append(("startup", "exec -> READY=1 (onair) / listening (nginx), median (ms)", st["onair_ready"] * 1000,
                 st["nginx_listening"] * 1000, ratio(st["onair_ready"], st["nginx_listening"]), "READY <= 300 ms",
                 st["onair_ready"] <= 0.300))
    rows.append(("startup", "exec -> listening, median (ms)", st["onair_listening"] * 1000, st["nginx_listening"] * 1000,
                 ratio(st["onair_listening"], st["nginx_listening"]), "", None))
    rows.append(("memory", "RSS idle (MB, all server processes)", st["onair_idle_rss"] / MB, st["nginx_idle_rss"] / MB,
                 ratio(st["onair_idle_rss"], st["nginx_idle_rss"]), "onair <= 30 MB", st["onair_idle_rss"] <= 30 * 1024 * 1024))
    rows.append(("memory", "PSS idle (MB)", st["onair_idle_pss"] / MB, st["nginx_idle_pss"] / MB,
                 ratio(st["onair_idle_pss"], st["nginx_idle_pss"]), "", None))
    rm = results["remux"]
    rows.append(("remux", f"CPU s per stream-minute (full-speed push x{args.remux_runs})", rm["onair"]["cpu_per_stream_minute"],
                 rm["nginx"]["cpu_per_stream_minute"], rm["ratio"], "ratio <= 0.8", rm["ratio"] <= 0.8))
    rows.append(("remux", "same, from schedstat (ns resolution; utime+stime tick at 10 ms)",
                 rm["onair"]["runtime_per_stream_minute"], rm["nginx"]["runtime_per_stream_minute"],
                 ratio(rm["onair"]["runtime_per_stream_minute"], rm["nginx"]["runtime_per_stream_minute"]), "", None))
    rows.append(("remux", "ffmpeg push wall time, median (s)", rm["onair"]["push_wall_s"], rm["nginx"]["push_wall_s"],
                 ratio(rm["onair"]["push_wall_s"], rm["nginx"]["push_wall_s"]), "", None))
    for k, pair in results["concurrency"].items():
        o, n = pair["onair"], pair["nginx"]
        sec = f"{k} publishers"
        rows.append((sec, "server CPU % (of one core)", o["cpu_percent"], n["cpu_percent"], ratio(o["cpu_percent"], n["cpu_percent"]), "", None))
        rows.append((sec, "peak RSS (MB)", o["peak_rss"] / MB, n["peak_rss"] / MB, ratio(o["peak_rss"], n["peak_rss"]), "", None))
        rows.append((sec, "RSS per active stream (MB)", o["rss_per_stream"] / MB, n["rss_per_stream"] / MB,
                     ratio(o["rss_per_stream"], n["rss_per_stream"]), "onair <= 1 MB", o["rss_per_stream"] <= 1024 * 1024))
        full = k >= 200  # the target is stated for 200 publishers
        rows.append((sec, "segments lost (expected - present)", f"{o['lost']} of {o['expected']}", f"{n['lost']} of {n['expected']}",
                     None, "0 at 200 publishers" if full else "0 (target is at 200)", o["lost"] == 0 if full else None))
        rows.append((sec, "segment publish delay p50 (ms)", o["delay_p50"] * 1000, n["delay_p50"] * 1000,
                     ratio(o["delay_p50"], n["delay_p50"]), "", None))
        rows.append((sec, "segment publish delay p99 (ms)", o["delay_p99"] * 1000, n["delay_p99"] * 1000,
                     ratio(o["delay_p99"], n["delay_p99"]), "p99 <= 100 ms at 200 publishers" if full
                     else "(target is at 200 publishers)", o["delay_p99"] <= 0.100 if full else None))
        rows.append((sec, "generator max lag behind schedule (ms)", o["generator_lag_max"] * 1000, n["generator_lag_max"] * 1000,
                     None, "", None))
    fo = results["fanout"]
    for kind, label in (("playlist_tls", "live playlist, TLS"), ("segment_tls", "segment, TLS"),
                        ("playlist_http", "live playlist, plain HTTP"), ("segment_http", "segment, plain HTTP")):
        o, n = fo["onair"][kind], fo["nginx"][kind]
        target = "ratio >= 1.0" if kind == "segment_tls" else ""
        rows.append(("fan-out", f"{label}: requests/s", o["rps"], n["rps"], ratio(o["rps"], n["rps"]), target,
                     ratio(o["rps"], n["rps"]) >= 1.0 if target else None))
        rows.append(("fan-out", f"{label}: MB/s", o["mbps"], n["mbps"], ratio(o["mbps"], n["mbps"]), "", None))
    rows.append(("fan-out", "segment size (bytes)", fo["onair"]["segment_bytes"], fo["nginx"]["segment_bytes"],
                 ratio(fo["onair"]["segment_bytes"], fo["nginx"]["segment_bytes"]), "", None))
    return rows


def render_table(rows):
    head = ("", "metric", "onair", "nginx-rtmp", "onair/nginx", "target", "met")
    body = [(s, m, fmt(o), fmt(n), fmt(r) if r is not None else "", t, {True: "yes", False: "NO", None: ""}[met])
            for s, m, o, n, r, t, met in rows]
    return head, body


def write_results(path, results, rows, args, info, versions, command, elapsed):
    head, body = render_table(rows)
    lines = [f"# onair vs nginx-rtmp — {'smoke' if args.smoke else 'benchmark'} run, {time.strftime('%Y-%m-%d %H:%M %Z')}", "",
             "Written by `bench/run.py` (issue 5). Same inputs for both servers in the same run, loopback, HLS on tmpfs",
             f"(/dev/shm), {SEGMENT} s segments, {WINDOW}-segment window. Ratios are onair/nginx.", "",
             "## Machine and versions", "",
             f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM, kernel {info['kernel']}; "
             f"load average at start {info['load_at_start']} (other jobs may share the cores)",
             f"- onair {versions['onair']} (`{versions['onair_binary']}`)",
             f"- nginx: `{versions['nginx']}`; rtmp module: {versions['rtmp_module']}",
             f"- ffmpeg: `{versions['ffmpeg']}`; wrk: `{versions['wrk']}`",
             f"- clip: {versions['clip']}", "",
             "## Command", "", f"    {command}", "", f"Took {elapsed:.0f} s.", "",
             "## Figures", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    largest = max(results["concurrency"]) if results["concurrency"] else 0
    big = results["concurrency"].get(200, {}).get("onair")
    st, rm, fo = results["startup"], results["remux"], results["fanout"]
    per_stream = max((pair["onair"]["rss_per_stream"] for pair in results["concurrency"].values()), default=float("nan"))

    def verdict(ok):
        return "met" if ok else "**not met**"
    lines += ["", "## The issue's targets", "",
              f"- remux CPU per stream at most 0.8x nginx-rtmp's: {fmt(rm['ratio'])}x, {verdict(rm['ratio'] <= 0.8)}",
              "- 200 publishers at 3 Mb/s, no lost segment, p99 segment publish delay at most 100 ms: " +
              (f"{big['lost']} lost of {big['expected']}, p99 {big['delay_p99'] * 1000:.1f} ms, "
               f"{verdict(big['lost'] == 0 and big['delay_p99'] <= 0.100)}" if big else
               f"not measured in this run (largest: {largest} publishers; run `--publishers 50,100,200 --seconds 60`)"),
              f"- HTTPS requests/s at least 1.0x nginx's for the same segment: "
              f"{fmt(ratio(fo['onair']['segment_tls']['rps'], fo['nginx']['segment_tls']['rps']))}x, "
              f"{verdict(fo['onair']['segment_tls']['rps'] >= fo['nginx']['segment_tls']['rps'])} "
              f"(live playlist over TLS: {fmt(ratio(fo['onair']['playlist_tls']['rps'], fo['nginx']['playlist_tls']['rps']))}x)",
              f"- RSS at most 30 MB idle: {st['onair_idle_rss'] / 1e6:.1f} MB, {verdict(st['onair_idle_rss'] <= 30 * 1024 * 1024)}; "
              f"at most 1 MB per extra active stream: {per_stream / 1e6:.2f} MB (worst of the publisher counts), "
              f"{verdict(per_stream <= 1024 * 1024)}",
              f"- READY=1 within 300 ms: {st['onair_ready'] * 1000:.0f} ms, {verdict(st['onair_ready'] <= 0.300)}",
              "", "MB here is 10^6 bytes; the 30 MB and 1 MB targets are checked as MiB."]
    lines += ["", "## How each figure is measured", "",
              "- **startup**: time from `Popen` (exec) to the READY=1 datagram on a stand-in NOTIFY_SOCKET (onair), and to all three",
              "  ports (RTMP, HTTPS, HTTP) accepting connections (both); median of the launches.",
              "- **memory**: VmRSS summed over the server's processes (nginx: master, workers and cache manager; PSS shown too since workers share",
              "  pages with the master). Idle = right after start. Per active stream = (largest RSS sample while all K publishers",
              "  were live − RSS just before the test) / K. Peak = VmHWM (reset through clear_refs before the test), summed.",
              "- **remux**: `ffmpeg -i clip -c copy -f flv rtmp://...` without `-re`; server utime+stime (/proc/PID/stat, nginx",
              "  master + workers) from before the push until the counter stops moving after it; per stream-minute of media.",
              "- **concurrency**: `bench/rtmp_load.py`, one Python process, K connections starting spread over one 2 s GOP, each",
              "  replaying the clip's FLV tags in real time (4096-byte chunks). A thread polls every playlist (stat every 2 ms,",
              "  re-read on change) and records when each segment first appears. Delay = appearance − the time the generator",
              "  handed the segment's closing keyframe to the kernel. Expected segments = keyframes sent per stream (each opens a",
              "  segment; the last one closes at hang-up); lost = expected − distinct segments seen. CPU % = server CPU seconds /",
              "  wall seconds of the test × 100 (100 % = one core).",
              "- **loadgen check**: one stream from `ffmpeg -re -c copy` and one from the generator, same clip and length, on each",
              "  server: same segment count and durations (listed below).",
              "- **fan-out**: `wrk -t2 -c32 -d{d}s` on the live playlist and on its newest segment while one real-time",
              "  publisher is live; nginx serves its HLS directory itself (same certificate, `sendfile on`, keep-alive unlimited,",
              "  no access log).", ""]
    lines += ["## Loadgen check", ""]
    for name, check in results["loadgen_check"].items():
        lines.append(f"- {name}: ffmpeg {check['ffmpeg']}, generator {check['generator']}: {'same' if check['same'] else 'DIFFERENT'}")
    lines += ["", "## Raw figures (JSON)", "", "```json", json.dumps(results, indent=1, default=str), "```", ""]
    path.write_text("\n".join(lines).replace("{d}", str(args.wrk_seconds)))


def print_table(rows):
    head, body = render_table(rows)
    widths = [max(len(str(r[i])) for r in [head] + body) for i in range(len(head))]
    print()
    for row in [head] + body:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print()


# ---------------------------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description="onair vs nginx-rtmp benchmark (issue 5)")
    parser.add_argument("--smoke", action="store_true", help="quick CI run: 1 remux push, 3 publishers for 15 s, wrk 3 s")
    parser.add_argument("--publishers", default="50,100,200", help="comma-separated publisher counts (default 50,100,200, as issue 5 asks)")
    parser.add_argument("--seconds", type=float, default=60, help="seconds each concurrency test lasts (default 60)")
    parser.add_argument("--remux-runs", type=int, default=3, help="full-speed pushes per server (default 3)")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--startups", type=int, default=3, help="launches per server for the startup figure (default 3)")
    parser.add_argument("--onair", default=os.environ.get("ONAIR") or str(ROOT / ".build/release/onair"))
    parser.add_argument("--output", default=str(BENCH / "results.md"))
    args = parser.parse_args()
    if args.smoke:
        args.publishers, args.seconds, args.remux_runs, args.wrk_seconds, args.startups = "3", 15, 1, 3, 1
    counts = [int(x) for x in args.publishers.split(",") if x.strip()]
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT))
                                                else sys.executable, "bench/run.py", *sys.argv[1:]])
    for tool in ("nginx", "ffmpeg", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (make bench installs it)")
    if not Path(NGINX_MODULE).exists():
        sys.exit(f"bench: {NGINX_MODULE} is missing (apt-get install libnginx-mod-rtmp)")
    if not Path(args.onair).exists():
        sys.exit(f"bench: {args.onair} is missing (swift build -c release --product onair)")

    began = time.monotonic()
    info = machine_info()
    log(f"machine: {info}")
    clip = conftest.make_clip("av", 60)
    certificate, key = conftest.tls_certificate()
    work = Path(tempfile.mkdtemp(prefix="onair-bench-", dir="/dev/shm"))
    (work / "onair").mkdir()
    onair = OnairServer(work / "onair", args.onair)
    nginx = NginxServer(work / "nginx", certificate, key)
    servers = [onair, nginx]
    results = {"machine": info, "args": vars(args)}
    failure = None
    try:
        # startup: launch, measure, stop (startups - 1 times), then the launch that stays
        ready, onair_listen, nginx_listen = [], [], []
        for index in range(args.startups):
            r, l = onair.start()
            ready.append(r)
            onair_listen.append(l)
            nginx_listen.append(nginx.start())
            if index < args.startups - 1:
                onair.stop()
                nginx.stop()
                nginx.workers = []
        time.sleep(1.0)
        for server in servers:
            server.check("start")
        results["startup"] = {"onair_ready": statistics.median(ready), "onair_listening": statistics.median(onair_listen),
                              "nginx_listening": statistics.median(nginx_listen), "onair_ready_all": ready,
                              "nginx_listening_all": nginx_listen,
                              "onair_idle_rss": onair.rss(), "nginx_idle_rss": nginx.rss(),
                              "onair_idle_pss": onair.pss(), "nginx_idle_pss": nginx.pss()}
        log(f"startup: onair READY {results['startup']['onair_ready'] * 1000:.0f} ms, "
            f"nginx listening {results['startup']['nginx_listening'] * 1000:.0f} ms; idle RSS onair "
            f"{onair.rss() / 1e6:.1f} MB, nginx {nginx.rss() / 1e6:.1f} MB ({len(nginx.workers)} workers)")

        results["loadgen_check"] = phase_loadgen_check(servers, clip, work)

        log(f"remux: {args.remux_runs} full-speed push(es) of the 60 s clip per server")
        results["remux"] = {s.name: phase_remux(s, clip, args.remux_runs, 60) for s in servers}
        results["remux"]["ratio"] = ratio(results["remux"]["onair"]["cpu_per_stream_minute"],
                                          results["remux"]["nginx"]["cpu_per_stream_minute"])
        log(f"  CPU s per stream-minute: onair {results['remux']['onair']['cpu_per_stream_minute']:.3f}, nginx "
            f"{results['remux']['nginx']['cpu_per_stream_minute']:.3f}, ratio {results['remux']['ratio']:.2f}")

        results["concurrency"] = {}
        for count in counts:
            pair = {}
            for server in servers:
                log(f"concurrency: {count} publishers x {args.seconds:.0f} s on {server.name}")
                figures = phase_concurrency(server, count, args.seconds, clip, work)
                pair[server.name] = figures
                log(f"  CPU {figures['cpu_percent']:.1f}%  RSS {figures['loaded_rss'] / 1e6:.1f} MB "
                    f"(+{figures['rss_per_stream'] / 1e6:.2f} MB/stream)  lost {figures['lost']}/{figures['expected']}  "
                    f"delay p50 {figures['delay_p50'] * 1000:.1f} ms p99 {figures['delay_p99'] * 1000:.1f} ms "
                    f"(n={figures['delay_count']}, generator lag max {figures['generator_lag_max'] * 1000:.0f} ms)")
            results["concurrency"][count] = pair

        log(f"fan-out: wrk {args.wrk_seconds} s per target")
        results["fanout"] = phase_fanout(servers, clip, args.wrk_seconds, work)
        for server in servers:
            server.check("the end of the run")
    except BenchFailure as error:
        failure = str(error)
    except Exception as error:  # noqa: BLE001 -- any harness error refuses the report too
        failure = f"harness error: {type(error).__name__}: {error}"
    finally:
        for server in servers:
            try:
                server.stop()
            except BenchFailure as error:
                failure = failure or str(error)
            except Exception as error:  # noqa: BLE001
                failure = failure or f"stopping {server.name}: {error}"
    if failure:
        print(f"\nbench: NOT reporting, a server or the harness failed: {failure}", file=sys.stderr)
        print(f"bench: logs kept in {work}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)

    ffmpeg_version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    wrk_version = (subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines() or ["?"])[0]
    rtmp = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libnginx-mod-rtmp"], capture_output=True, text=True).stdout
    versions = {"onair": onair.version(), "onair_binary": os.path.relpath(args.onair, ROOT), "nginx": nginx.version(),
                "rtmp_module": f"libnginx-mod-rtmp {rtmp}", "ffmpeg": ffmpeg_version, "wrk": wrk_version.strip(),
                "clip": f"{clip.name} ({clip.stat().st_size / 1e6:.1f} MB, 60 s 720p30 H.264 3 Mb/s 2 s GOP B-frames + AAC 48 kHz)"}
    results["versions"] = versions
    rows = build_rows(results, args)
    print_table(rows)
    write_results(Path(args.output), results, rows, args, info, versions, command, time.monotonic() - began)
    log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
