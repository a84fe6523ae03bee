#!/usr/bin/env python3
"""Request rates over TLS (issue 3's figures): wrk against the API, a live playlist and a segment.

Runs the release onair ($ONAIR or .build/release/onair) on loopback with a real-time ffmpeg publish,
then `wrk -t2 -c32 -d10s` against: GET /video/v1/live-streams/{id} (Basic auth), the media playlist,
a 2 s segment over HTTPS, and the same segment over plain HTTP.
"""
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

root = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(root / "Tests/EndToEndTests"))
import conftest  # noqa: E402

conftest.ONAIR = os.environ.get("ONAIR") or str(root / ".build/release/onair")
duration = os.environ.get("WRK_DURATION", "10s")
work = Path(tempfile.mkdtemp(prefix="onair-wrk-"))
server = conftest.Onair(work, playlist_length=10).start()
try:
    stream = server.create_stream(reconnect_window=30)
    pid = stream["playback_ids"][0]["id"]
    publisher = server.publish(conftest.make_clip("av", 60), stream)
    playlist = server.playlist_path(stream)
    while not (playlist.exists() and playlist.read_text().count("#EXTINF") >= 3):
        time.sleep(0.2)

    def newest_segment():
        return [line for line in playlist.read_text().splitlines() if line.endswith(".ts")][-1]
    auth = "Basic " + base64.b64encode(f"{server.write_token[0]}:{server.write_token[1]}".encode()).decode()
    targets = [
        ("API GET live stream (TLS)", f"{server.base_url}/video/v1/live-streams/{stream['id']}", ["-H", f"Authorization: {auth}"]),
        ("media playlist (TLS)", f"{server.base_url}/{pid}/index.m3u8", []),
        ("segment (TLS)", lambda: f"{server.base_url}/{pid}/{newest_segment()}", []),
        ("segment (plain HTTP)", lambda: f"{server.plain_url}/{pid}/{newest_segment()}", []),
    ]
    for name, url, extra in targets:
        url = url() if callable(url) else url
        out = subprocess.run(["wrk", "-t2", "-c32", f"-d{duration}", *extra, url], capture_output=True, text=True, timeout=120).stdout
        rate = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
        transfer = re.search(r"Transfer/sec:\s+(\S+)", out).group(1)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        print(f"{name:28s} {float(rate):10.0f} req/s  {transfer:>10s}/s" + (f"  non-2xx: {errors.group(1)}" if errors else ""))
    publisher.kill()
finally:
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
