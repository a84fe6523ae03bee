#!/usr/bin/env python3
"""Thumbnails of a live 720p stream (issue 15), each figure beside an anchor measured in the same run.

Runs the release onair ($ONAIR or .build/release/onair) on loopback with one real-time ffmpeg publish
of a 1280x720 30 fps clip. Then:

- **uncached**: `--requests` sequential GETs of `/{ID}/thumbnail.jpg?width=640&time=T`, each T a
  different picture of the live window (so each is a decode): time to first byte, p50 and p99. The
  anchor is the same ffmpeg command run directly on the same segment file (what the decode itself
  costs); the ratio is onair / bare ffmpeg.
- **CPU per uncached thumbnail**: onair's own CPU plus its reaped children's (prlimit, ffmpeg), from
  /proc/PID/stat, over the requests, less onair's CPU over an equal idle stretch (the publish alone);
  against bare ffmpeg's CPU per run (getrusage of this process's children).
- **cached**: `wrk -t2 -c32` on one made thumbnail (HTTPS, keep-alive), against the newest segment
  (served from memory) as the anchor; and `latest`, the default, as a tile wall polls it.

Writes bench/thumbnails.md.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
root = BENCH.parent
sys.path.insert(0, str(root / "Tests/EndToEndTests"))
import conftest  # noqa: E402
from signed import wrk  # noqa: E402  (wrk -t2 -c32, its rate; non-2xx fails)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, children=True):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = int(fields[11]) + int(fields[12])
    reaped = int(fields[13]) + int(fields[14]) if children else 0
    return (own + reaped) / TICKS


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60, help="uncached thumbnails")
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--output", default=str(BENCH / "thumbnails.md"))
    args = parser.parse_args()
    conftest.ONAIR = os.environ.get("ONAIR") or str(root / ".build/release/onair")
    work = Path(tempfile.mkdtemp(prefix="onair-thumbnails-"))
    server = conftest.Onair(work, playlist_length=60).start()
    try:
        auth, verify = server.write_token, str(server.certificate)
        stream = requests.post(f"{server.base_url}/video/v1/live-streams", json={"playback_policies": ["public"], "reconnect_window": 30},
                               auth=auth, verify=verify, timeout=10).json()["data"]
        pid = stream["playback_ids"][0]["id"]
        publisher = server.publish(conftest.make_clip("av", 300, size="1280x720"), stream)
        playlist = server.playlist_path(stream)
        while not (playlist.exists() and playlist.read_text().count("#EXTINF") >= 15):
            time.sleep(0.5)
        segments = [line for line in playlist.read_text().splitlines() if line.endswith(".ts")]
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override the server's own certificate
        session.verify = verify
        base = f"{server.base_url}/{pid}"
        assert session.get(f"{base}/thumbnail.jpg?width=640&time=1").status_code == 200  # warm: process, cache path, TLS

        # Idle CPU of the publish alone, over as long as the requests take (estimated, then measured alike).
        times = [1.0 + 26.0 * i / args.requests for i in range(args.requests)]  # distinct pictures of the first 28 s
        started = time.monotonic()
        before = cpu_seconds(server.process.pid)
        ttfb = []
        for t in times:
            r = session.get(f"{base}/thumbnail.jpg", params={"width": 640, "time": f"{t:.3f}"}, stream=True)
            ttfb.append(r.elapsed.total_seconds())
            assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg", r.text[:200]
            r.content
        busy = time.monotonic() - started
        used = cpu_seconds(server.process.pid) - before
        before = cpu_seconds(server.process.pid)
        time.sleep(busy)
        idle = cpu_seconds(server.process.pid) - before
        per_thumbnail = (used - idle) / len(times)

        # At keyframes (segment starts, as `latest` and storyboards decode): distinct, so uncached.
        keyframes = []
        for k in range(1, 14):
            r = session.get(f"{base}/thumbnail.jpg", params={"width": 640, "time": f"{2 * k + 0.0001:.4f}"}, stream=True)
            keyframes.append(r.elapsed.total_seconds())
            assert r.status_code == 200, r.text[:200]
            r.content

        # The anchor: the same decode by hand, on a segment of the window, as onair runs it.
        segment = str(server.hls_dir / stream["id"] / segments[5])
        command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-filter_threads", "1", "-threads", "1",
                   "-probesize", "5000000", "-analyzeduration", "2000000", "-i", f"file:{segment}", "-ss", "1.000",
                   "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn", "-vf", "scale=640:-1", "-c:v", "mjpeg", "-q:v", "3",
                   "-pix_fmt", "yuvj420p", "-f", "image2", "-update", "1", "-threads", "1", "-y", str(work / "anchor.jpg")]
        bare = []
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(len(times)):
            t0 = time.monotonic()
            subprocess.run(command, check=True, timeout=30)
            bare.append(time.monotonic() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        bare_cpu = (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime) / len(times)
        at_keyframe = command[:command.index("-ss") + 1] + ["0.000"] + command[command.index("-ss") + 2:]
        bare_keyframes = []
        for _ in range(len(keyframes)):
            t0 = time.monotonic()
            subprocess.run(at_keyframe, check=True, timeout=30)
            bare_keyframes.append(time.monotonic() - t0)

        # Cached: one made picture, the newest segment from memory, and latest.
        cached_url = f"{base}/thumbnail.jpg?width=640&time=5"
        segment_url = f"{base}/{segments[-2]}"
        latest_url = f"{base}/thumbnail.jpg?width=640"
        for url in (cached_url, latest_url):
            assert session.get(url).status_code == 200
        cached = wrk(cached_url, args.seconds)
        segment_rate = wrk(segment_url, args.seconds)
        latest = wrk(latest_url, args.seconds)
        publisher.kill()
        publisher.wait()
    finally:
        server.stop()

    p50, p99 = percentile(ttfb, 0.5), percentile(ttfb, 0.99)
    b50, b99 = percentile(bare, 0.5), percentile(bare, 0.99)
    lines = [
        "# Thumbnails of a live 720p stream",
        "",
        f"`.venv/bin/python bench/thumbnails.py --requests {args.requests} --seconds {args.seconds}` on {time.strftime('%Y-%m-%d')},"
        f" release build, loopback, HTTPS. One 1280x720 30 fps publish; 640 px JPEGs.",
        "",
        "Uncached: `time` spread over the first 28 s of the broadcast, so up to a segment's 60 frames are decoded"
        " to reach the picture; at a keyframe only one is.",
        "",
        "| uncached thumbnail | onair (time to first byte) | bare ffmpeg, same decode (wall) | onair / ffmpeg |",
        "|---|---:|---:|---:|",
        f"| p50 | {p50 * 1000:.1f} ms | {b50 * 1000:.1f} ms | {p50 / b50:.2f}x |",
        f"| p99 | {p99 * 1000:.1f} ms | {b99 * 1000:.1f} ms | {p99 / b99:.2f}x |",
        f"| at a keyframe (as `latest`), p50 | {percentile(keyframes, 0.5) * 1000:.1f} ms | {percentile(bare_keyframes, 0.5) * 1000:.1f} ms |"
        f" {percentile(keyframes, 0.5) / percentile(bare_keyframes, 0.5):.2f}x |",
        f"| CPU per thumbnail (at any time) | {per_thumbnail * 1000:.1f} ms (onair and its children, less idle) | {bare_cpu * 1000:.1f} ms |"
        f" {per_thumbnail / bare_cpu:.2f}x |",
        "",
        "| cached (wrk -t2 -c32) | requests/s | vs the newest segment |",
        "|---|---:|---:|",
        f"| a made thumbnail (`time=5`) | {cached:.0f} | {cached / segment_rate:.2f}x |",
        f"| `latest` (the default), as a tile wall polls it | {latest:.0f} | {latest / segment_rate:.2f}x |",
        f"| anchor: the newest segment, from memory | {segment_rate:.0f} | 1.00x |",
        "",
    ]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
