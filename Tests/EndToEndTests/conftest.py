"""End-to-end fixtures: the real `onair` binary on loopback with real publishers (ffmpeg, GStreamer).

Every test here needs ffmpeg/ffprobe (and GStreamer for one); they fail, never skip, when missing.
Each process is bounded in time and stopped by the fixture.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import m3u8
import pytest

ONAIR = os.environ.get("ONAIR") or str(Path(__file__).resolve().parents[2] / ".build/debug/onair")
CLIP_DIR = Path(os.environ.get("ONAIR_CLIP_DIR", "/tmp/onair-e2e-clips"))


# The longest tests (minutes of real time) are handed out first, so with pytest-xdist's workers they
# do not start last and become the tail of the run.
LONGEST_FIRST = ("test_publish_and_reconnect_churn_does_not_grow_memory",
                 "test_kill_9_during_ingest_then_restart_continues_the_broadcast")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: 0 if item.name in LONGEST_FIRST else 1)


def require(tool):
    path = shutil.which(tool)
    assert path, f"{tool} is required for the end-to-end tests (make test-deps installs it)"
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def made_once(name):
    """A lock on CLIP_DIR/name.lock: the tests run in several processes (pytest-xdist), and a cached
    file is made by one of them while the others wait."""
    CLIP_DIR.mkdir(parents=True, exist_ok=True)
    with open(CLIP_DIR / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def make_clip(name, seconds, *, video=True, audio=True, size="1280x720", bframes=2, gop=60):
    """A 30 fps H.264 (a keyframe every `gop` frames, 2 s by default; B-frames) + AAC 48 kHz FLV clip, made once
    and cached."""
    require("ffmpeg")
    path = CLIP_DIR / f"{name}-{seconds}s-{size}-v{int(video)}a{int(audio)}-b{bframes}{'' if gop == 60 else f'-g{gop}'}.flv"
    with made_once(path.name):
        return path if path.exists() else _make_clip(path, seconds, video=video, audio=audio, size=size,
                                                     bframes=bframes, gop=gop)


def _make_clip(path, seconds, *, video, audio, size, bframes, gop):
    cmd = ["ffmpeg", "-v", "error", "-y"]
    if video:
        cmd += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    cmd += ["-t", str(seconds)]
    if video:
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "3000k", "-maxrate", "3000k", "-bufsize", "6000k",
                "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", str(bframes), "-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "128k", "-ar", "48000"]
    tmp = path.with_suffix(".tmp.flv")
    subprocess.run(cmd + ["-f", "flv", str(tmp)], check=True, timeout=120)
    tmp.rename(path)
    return path


def tls_certificate():
    """A self-signed certificate for 127.0.0.1/localhost, made once per run (openssl)."""
    require("openssl")
    cert, key = CLIP_DIR / "e2e-cert.pem", CLIP_DIR / "e2e-key.pem"
    with made_once("e2e-cert"):
        if cert.exists():
            return cert, key
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "30", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=60)
    return cert, key


class Onair:
    """A running `onair serve` with its own config, database and HLS directory."""

    def __init__(self, root: Path, *, rtmp=None, http=None, recordings=None, extra=(), **hls):
        self.root = root
        recordings = dict(recordings or {})
        self.recordings_dir = Path(recordings.pop("directory", root / "recordings"))
        self.rtmp_port = free_port()
        self.https_port = free_port()
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.hls_dir = root / "hls"
        self.config = root / "onair.yaml"
        self.certificate, self.key = tls_certificate()
        # Credentials unique to this server: one token that may write, one that may only read.
        self.write_token = ("e2e-write", secrets.token_urlsafe(24))
        self.read_token = ("e2e-read", secrets.token_urlsafe(24))
        read_hash = hashlib.sha256(self.read_token[1].encode()).hexdigest()
        hls_settings = {"segment_duration": 2, "playlist_length": 40, "delete_grace_segments": 6}
        hls_settings.update(hls)
        rtmp_settings = {"handshake_timeout": 5, "idle_timeout": 10, **(rtmp or {})}
        lines = [
            "rtmp:",
            f'  listen: "127.0.0.1:{self.rtmp_port}"',
        ] + [f"  {k}: {v}" for k, v in rtmp_settings.items()] + [
            "http:",
            f'  listen: "127.0.0.1:{self.https_port}"',
            f'  plain_listen: "127.0.0.1:{self.http_port}"',
        ] + [f"  {k}: {v}" for k, v in (http or {}).items()] + [
            "  tls:",
            f"    certificate: {self.certificate}",
            f"    key: {self.key}",
            "metrics:",
            f'  listen: "127.0.0.1:{self.metrics_port}"',
            "access_tokens:",
            f"  - id: {self.write_token[0]}",
            f"    secret: {self.write_token[1]}",
            "    permissions: [video:write, system:write]",
            f"  - id: {self.read_token[0]}",
            f"    secret_sha256: {read_hash}",
            "    permissions: [video:read]",
            "hls:",
            f"  directory: {self.hls_dir}",
        ] + [f"  {k}: {v}" for k, v in hls_settings.items()] + [
            "recordings:",
            f"  directory: {self.recordings_dir}",
        ] + [f"  {k}: {v}" for k, v in {"min_free_bytes": 0, **recordings}.items()] + [
            "storage:",
            f"  database: {root / 'onair.sqlite'}",
        ] + list(extra)
        self.config.write_text("\n".join(lines) + "\n")
        self.log_path = root / "onair.log"
        self.process = None

    def start(self):
        self.log = open(self.log_path, "ab")  # a restart appends
        self.process = subprocess.Popen([ONAIR, "serve", "--config", str(self.config), "--log-level", "debug"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        waiting = [self.rtmp_port, self.https_port, self.http_port, self.metrics_port]
        while waiting and time.monotonic() < deadline:
            assert self.process.poll() is None, f"onair exited early:\n{self.log_text()}"
            try:
                with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2):
                    waiting.pop(0)
            except OSError:
                time.sleep(0.05)
        assert not waiting, f"onair did not listen on {waiting}:\n{self.log_text()}"
        return self

    @property
    def base_url(self):
        """HTTPS base of the API and playback."""
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def metrics_url(self):
        """Prometheus metrics (plain HTTP, loopback, a listener of its own)."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def plain_url(self):
        """Plain-HTTP base (playback only)."""
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise AssertionError("onair did not stop within 15 s of SIGTERM")
            assert code == 0, f"onair exited {code} on SIGTERM:\n{self.log_text()}"
        self.log.close()

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def cli(self, *args):
        out = subprocess.run([ONAIR, *args, "--config", str(self.config)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def create_stream(self, **options):
        args = ["streams", "create", "--json"]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        return json.loads(self.cli(*args))

    def get_stream(self, stream_id):
        return json.loads(self.cli("streams", "get", stream_id, "--json"))

    def url(self, key):
        return f"rtmp://127.0.0.1:{self.rtmp_port}/app/{key}"

    def playlist_path(self, stream):
        return self.hls_dir / stream["id"] / "index.m3u8"

    def publish(self, clip, stream, *, realtime=True, extra=(), timeout=120):
        """Starts ffmpeg pushing `clip` with the stream's key; returns the Popen."""
        cmd = ["ffmpeg", "-v", "error", "-nostdin"] + (["-re"] if realtime else []) + ["-i", str(clip)]
        cmd += list(extra) + ["-c", "copy", "-f", "flv", self.url(stream["stream_key"])]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_endlist(self, stream, timeout=30):
        path = self.playlist_path(stream)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and "#EXT-X-ENDLIST" in path.read_text():
                return m3u8.load(str(path))
            time.sleep(0.1)
        raise AssertionError(f"no EXT-X-ENDLIST in {path} after {timeout} s:\n{path.read_text() if path.exists() else 'missing'}\n{self.log_text()[-4000:]}")


@pytest.fixture
def onair():
    require(ONAIR)
    root = Path(tempfile.mkdtemp(prefix="onair-e2e-"))
    server = Onair(root).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def receivers():
    """Makes webhook receivers (webhook_receiver.Receiver); closes them after the test."""
    from webhook_receiver import Receiver
    made = []

    def make(*args, **kwargs):
        receiver = Receiver(*args, **kwargs)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def finish(process, timeout=120):
    """Waits for a publisher; returns (returncode, stderr)."""
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"publisher did not finish within {timeout} s: {err}")
    return process.returncode, err


def decode_errors(playlist_path):
    """What `ffmpeg -v error -i index.m3u8 -f null -` prints: must be nothing."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(playlist_path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120)
    return (out.stdout + out.stderr).strip() + ("" if out.returncode == 0 else f" (exit {out.returncode})")


def probe_streams(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_type,codec_name,width,height,sample_rate,start_time",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)["streams"]


def first_packet_times(path):
    """First packet pts (seconds) per codec_type of a segment."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=pts_time,stream_index",
                          "-show_entries", "stream=index,codec_type", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=60, check=True)
    data = json.loads(out.stdout)
    kinds = {s["index"]: s["codec_type"] for s in data["streams"]}
    first = {}
    for packet in data["packets"]:
        kind = kinds[packet["stream_index"]]
        t = float(packet["pts_time"])
        first[kind] = min(first.get(kind, t), t)
    return first
