#!/usr/bin/env python3
"""Signed playback against public playback, side by side in one run (issue 14; goal: signed >= 0.9x).

Runs the release onair ($ONAIR or .build/release/onair) on loopback with one real-time ffmpeg publish to
a stream that has a public and a signed playback ID. A signing key is made through the API and a token
with PyJWT. Then `wrk -t2 -c32` (HTTPS, keep-alive) runs against four pairs, public and signed taking
turns `--rounds` times so that drift hits both alike:

- the live media playlist: `/{PUBLIC}/index.m3u8` against the grant path the signed multivariant
  playlist names, `/{SIGNED}/t/{GRANT}/index.m3u8` (both on the playlist fast path);
- the newest segment: `/{PUBLIC}/{seg}` against `/{SIGNED}/t/{GRANT}/{seg}` (the router, plus an HMAC);
- the newest segment with the token itself, `/{SIGNED}/{seg}?token=JWT` (the verified-token cache);
- the multivariant playlist: `/{PUBLIC}.m3u8` against `/{SIGNED}.m3u8?token=JWT`.

Writes bench/signed.md (median requests per second of the rounds, and signed / public).
"""
import argparse
import base64
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jwt
import requests

BENCH = Path(__file__).resolve().parent
root = BENCH.parent
sys.path.insert(0, str(root / "Tests/EndToEndTests"))
import conftest  # noqa: E402


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert not errors, f"{url}: {errors.group(0)}\n{out}"
    return rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", default=str(BENCH / "signed.md"))
    args = parser.parse_args()
    conftest.ONAIR = os.environ.get("ONAIR") or str(root / ".build/release/onair")
    work = Path(tempfile.mkdtemp(prefix="onair-signed-"))
    server = conftest.Onair(work, playlist_length=10).start()
    try:
        auth = server.write_token
        verify = str(server.certificate)
        stream = requests.post(f"{server.base_url}/video/v1/live-streams", json={"playback_policies": ["public", "signed"],
                               "reconnect_window": 30}, auth=auth, verify=verify, timeout=10).json()["data"]
        public = next(p["id"] for p in stream["playback_ids"] if p["policy"] == "public")
        signed = next(p["id"] for p in stream["playback_ids"] if p["policy"] == "signed")
        key = requests.post(f"{server.base_url}/system/v1/signing-keys", auth=auth, verify=verify, timeout=30).json()["data"]
        token = jwt.encode({"sub": signed, "aud": "v", "exp": int(time.time()) + 3600}, base64.b64decode(key["private_key"]),
                           algorithm="RS256", headers={"kid": key["id"]})
        # Live for every run: 4 pairs x 2 sides x rounds x seconds, plus the start.
        publisher = server.publish(conftest.make_clip("av", 8 * args.rounds * args.seconds + 60), stream)
        playlist = server.playlist_path(stream)
        while not (playlist.exists() and playlist.read_text().count("#EXTINF") >= 4):
            time.sleep(0.2)
        multivariant = requests.get(f"{server.base_url}/{signed}.m3u8", params={"token": token}, verify=verify, timeout=10)
        assert multivariant.status_code == 200, multivariant.text
        media = next(line for line in multivariant.text.splitlines() if line.endswith("index.m3u8"))
        grant_base = media.rsplit("/", 1)[0]  # SIGNED/t/GRANT

        def newest_segment():
            return [line for line in playlist.read_text().splitlines() if line.endswith(".ts")][-2]

        base = server.base_url
        pairs = [
            ("media playlist (fast path)", lambda: f"{base}/{public}/index.m3u8", lambda: f"{base}/{grant_base}/index.m3u8"),
            ("segment, grant path", lambda: f"{base}/{public}/{newest_segment()}", lambda: f"{base}/{grant_base}/{newest_segment()}"),
            ("segment, ?token=", lambda: f"{base}/{public}/{newest_segment()}", lambda: f"{base}/{signed}/{newest_segment()}?token={token}"),
            ("multivariant playlist, ?token=", lambda: f"{base}/{public}.m3u8", lambda: f"{base}/{signed}.m3u8?token={token}"),
        ]
        rows = []
        for name, public_url, signed_url in pairs:
            rates = {"public": [], "signed": []}
            for _ in range(args.rounds):
                rates["public"].append(wrk(public_url(), args.seconds))
                rates["signed"].append(wrk(signed_url(), args.seconds))
            p, s = statistics.median(rates["public"]), statistics.median(rates["signed"])
            rows.append((name, p, s, s / p))
            print(f"{name:32s} public {p:9.0f} req/s  signed {s:9.0f} req/s  {s / p:5.2f}x", flush=True)
        publisher.kill()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    cpus = os.cpu_count()
    text = [
        "# Signed playback against public playback",
        "",
        f"`make bench` (bench/signed.py): release onair on loopback, one real-time 720p publish, `wrk -t2 -c32 -d{args.seconds}s`",
        f"over HTTPS (keep-alive, HTTP/1.1), public and signed taking turns, median of {args.rounds} rounds; {cpus} CPUs shared by",
        "onair, wrk and ffmpeg. Goal: signed at least 0.9x of public.",
        "",
        "| request | public req/s | signed req/s | signed / public |",
        "|---|---:|---:|---:|",
    ] + [f"| {name} | {p:.0f} | {s:.0f} | {r:.2f}x |" for name, p, s, r in rows] + [""]
    Path(args.output).write_text("\n".join(text))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
