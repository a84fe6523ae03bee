#!/usr/bin/env python3
"""How far behind the camera players sit, for latency_mode low, reduced and standard (issue 12).

For each mode the release onair runs on loopback and ffmpeg pushes the 60 s 720p clip in real time
(looped). onair stamps every segment and part with EXT-X-PROGRAM-DATE-TIME from the wall clock at
ingest, so "behind the camera" = now minus the PROGRAM-DATE-TIME of what the player shows, which is
the server's publish delay plus the player's distance from the live edge. Players:

  hls.js 1.6 in Chromium (lowLatencyMode on, HTTPS, HTTP/2): `Date.now() - hls.playingDate`, and
           hls.js's own `latency` (its distance from the edge), once a second after a warm-up;
  the test suite's LL-HLS client (Tests/EndToEndTests/llhls_client.py; low only): blocking reloads,
           holding back PART-HOLD-BACK from the edge as the spec tells players to.

Goal: `low` under 2 s for both. No anchor: nginx-rtmp has no LL-HLS.

    .venv/bin/python bench/player_latency.py [--seconds 15]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests/EndToEndTests"))
import conftest  # noqa: E402
from api_helpers import wait_playable  # noqa: E402
from hlsjs import hlsjs_module, hlsjs_plays  # noqa: E402
from llhls_client import Client, latency  # noqa: E402


def publish(server, clip, stream):
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i", str(clip), "-c", "copy", "-f", "flv",
           server.url(stream["stream_key"])]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def measure(server, clip, mode, seconds, module):
    stream = server.create_stream(latency_mode=mode, reconnect_window=0)
    pid = stream["playback_ids"][0]["id"]
    publisher = publish(server, clip, stream)
    try:
        wait_playable(server.base_url, pid, timeout=40, verify=str(server.certificate))
        row = {"mode": mode}
        state, _ = hlsjs_plays(server.base_url, pid, module, seconds=6, samples=seconds, timeout_ms=60000)
        samples = [s for s in state["samples"] if s["behindCamera"] is not None]
        row["hlsjs_camera"] = statistics.median(s["behindCamera"] for s in samples)
        row["hlsjs_edge"] = statistics.median(s["latency"] for s in samples)
        row["hlsjs_fatal"] = sorted({e for s in samples for e in s["fatal"]})
        row["protocols"] = sorted({p for s in samples for p in s["protocols"]})
        if mode == "low":
            client = Client(server.base_url, pid, verify=str(server.certificate))
            client.start()
            client.follow(seconds)
            row["client_camera"] = statistics.median(latency(p, p.received) for p in client.playlists[1:])
        return row
    finally:
        publisher.kill()
        publisher.communicate()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=15, help="samples (one a second) per player and mode")
    parser.add_argument("--onair", default=os.environ.get("ONAIR") or str(ROOT / ".build/release/onair"))
    parser.add_argument("--out", default=str(ROOT / "bench/player_latency.md"))
    args = parser.parse_args()
    conftest.ONAIR = args.onair
    module = hlsjs_module()
    clip = conftest.make_clip("av", 60)
    rows = []
    for mode in ["low", "reduced", "standard"]:
        server = conftest.Onair(Path(tempfile.mkdtemp(prefix="onair-latency-")), playlist_length=10).start()
        try:
            row = measure(server, clip, mode, args.seconds, module)
        finally:
            server.stop()
        print(f"{mode:>8}: hls.js {row['hlsjs_camera']:.2f} s behind the camera ({row['hlsjs_edge']:.2f} s behind the edge)"
              + (f", LL client {row['client_camera']:.2f} s" if "client_camera" in row else ""), flush=True)
        rows.append(row)
    lines = ["# Player latency", "",
             f"`{' '.join(['.venv/bin/python', 'bench/player_latency.py'] + sys.argv[1:])}` on {time.strftime('%Y-%m-%d %H:%M')}, "
             f"{os.cpu_count()} CPUs, release onair, loopback, ffmpeg -re pushing a 720p30 clip (2 s GOP).", "",
             "Seconds behind the camera: now minus the PROGRAM-DATE-TIME (the ingest wall clock) of what the player",
             "shows; medians of one sample a second over the run. hls.js's own `latency` is its distance from the",
             "live edge. Goal: `low` under 2 s for hls.js and for the LL-HLS client.", "",
             "| latency_mode | hls.js behind camera | hls.js behind edge | LL client behind camera | hls.js protocol |",
             "|---|---|---|---|---|"]
    for r in rows:
        client = f"{r['client_camera']:.2f}" if "client_camera" in r else "—"
        lines.append(f"| {r['mode']} | {r['hlsjs_camera']:.2f} | {r['hlsjs_edge']:.2f} | {client} | {', '.join(r['protocols'])} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
