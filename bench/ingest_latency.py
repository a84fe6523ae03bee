#!/usr/bin/env python3
"""Segment availability delay and CPU of one real-time 3 Mb/s 720p stream (issue 2's figures).

Runs the onair binary ($ONAIR or .build/release/onair, else .build/debug/onair) on loopback, creates a
stream with the CLI, pushes the testing.md 60 s 720p clip with `ffmpeg -re`, and polls the playlist
every 2 ms. For each segment: delay = time it appeared in the playlist - (publish start + media end
of the segment), i.e. the time from sending the segment's closing keyframe to the playlist listing
it. The publish start is taken when ffmpeg is launched, so process start-up and the RTMP handshake
count against onair: the figures are upper bounds. CPU = onair's utime+stime over the publish.
"""
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests/EndToEndTests"))
import conftest  # noqa: E402

root = Path(__file__).resolve().parents[1]
for candidate in (os.environ.get("ONAIR"), root / ".build/release/onair", root / ".build/debug/onair"):
    if candidate and Path(candidate).exists():
        conftest.ONAIR = str(candidate)
        break
seconds = int(os.environ.get("CLIP_SECONDS", "60"))
clip = conftest.make_clip("av", seconds)
work = Path(tempfile.mkdtemp(prefix="onair-bench-"))
server = conftest.Onair(work, playlist_length=100).start()
try:
    stream = server.create_stream(reconnect_window=1)
    playlist = server.playlist_path(stream)
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu():
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    cpu_before = cpu()
    started = time.monotonic()
    publisher = server.publish(clip, stream)
    seen, delays, media_end = 0, [], 0.0
    while publisher.poll() is None or seen == 0:
        if playlist.exists():
            durations = [float(line.split(":")[1].rstrip(",")) for line in playlist.read_text().splitlines()
                         if line.startswith("#EXTINF:")]
            now = time.monotonic()
            for duration in durations[seen:]:
                media_end += duration
                delays.append(now - started - media_end)
            seen = max(seen, len(durations))
        time.sleep(0.002)
        if time.monotonic() - started > seconds + 30:
            break
    cpu_used = cpu() - cpu_before
    delays = delays[:-1]  # the last segment closes at end of stream, not on a keyframe
    first = delays[0]
    delays.sort()
    print(f"segments: {len(delays)}  delay after closing keyframe (upper bound): "
          f"first {first:.3f}s  p50 {delays[len(delays) // 2]:.3f}s  max {delays[-1]:.3f}s")
    print(f"onair CPU: {cpu_used:.2f} s for {seconds} s of 3 Mb/s 720p H.264+AAC = {100 * cpu_used / seconds:.2f}% of one core")
finally:
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
