"""Long runs, fast-forwarded (issue 6): streams whose timestamps start just below the 24-bit extended
timestamp boundary (4.66 h), just below 2^32 ms (where RTMP timestamps wrap to 0, 49.7 days) and just
below the 33-bit MPEG-TS PTS wrap (26.5 h), pushed at full speed. Each playlist must stay continuous:
no discontinuity, no negative or absurd EXTINF, the clip's whole duration, and a clean decode.
Also max_continuous_duration with a short appliance-wide value."""
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import rtmp_client
from conftest import Onair, decode_errors, finish, first_packet_times, make_clip

CLIP_SECONDS = 24
PTS_WRAP_MS = (1 << 33) // 90  # 26.5 h


@pytest.mark.parametrize("start_ms", [
    (1 << 24) - 7_000,     # the extended timestamp field takes over 7 s in
    (1 << 32) - 9_000,     # RTMP's 32-bit timestamps wrap to 0 9 s in
    PTS_WRAP_MS - 11_000,  # the 33-bit PTS wraps 11 s in
], ids=["24-bit-extended", "32-bit-rtmp-wrap", "33-bit-pts-wrap"])
def test_timestamps_across_each_wrap_keep_the_playlist_continuous(onair, start_ms):
    clip = make_clip("av", CLIP_SECONDS, size="640x360")
    live = onair.create_stream(reconnect_window=0)
    sock = rtmp_client.publish(onair.rtmp_port, live["stream_key"])
    rtmp_client.push_tags(sock, rtmp_client.read_flv(clip), offset_ms=start_ms)
    sock.close()
    playlist = onair.wait_for_endlist(live)
    durations = [segment.duration for segment in playlist.segments]
    assert not any(segment.discontinuity for segment in playlist.segments), f"a discontinuity at the wrap: {playlist.dumps()}"
    assert all(0 < d <= 2.5 for d in durations), f"absurd EXTINF values: {durations}"
    assert all(abs(d - 2.0) < 0.1 for d in durations[:-1]), f"segments are not cut every 2 s: {durations}"
    assert abs(sum(durations) - CLIP_SECONDS) < 1.0, f"{sum(durations)} s listed for a {CLIP_SECONDS} s clip: {durations}"
    assert decode_errors(onair.playlist_path(live)) == ""
    # The segments really carry the shifted timestamps (PTS modulo 2^33 ticks): the wrap happened inside.
    wrap = (1 << 33) / 90_000
    folder = onair.playlist_path(live).parent
    first = first_packet_times(folder / playlist.segments[0].uri)["video"]
    last = first_packet_times(folder / playlist.segments[-1].uri)["video"]
    expected_first = (start_ms / 1000) % wrap
    expected_last = (start_ms / 1000 + sum(durations[:-1])) % wrap

    def distance(a, b):  # ffprobe may show a PTS just below the wrap as negative
        return abs((a - b + wrap / 2) % wrap - wrap / 2)
    assert distance(first, expected_first) < 5 and distance(last, expected_last) < 5, (first, expected_first, last, expected_last)


def test_max_continuous_duration_disconnects_the_publisher():
    root = Path(tempfile.mkdtemp(prefix="onair-e2e-duration-"))
    server = Onair(root, rtmp={"max_continuous_duration": 3}).start()
    try:
        clip = make_clip("av", 20, size="640x360")
        live = server.create_stream(reconnect_window=0)
        started = time.monotonic()
        code, err = finish(server.publish(clip, live), timeout=60)
        elapsed = time.monotonic() - started
        assert code != 0 and elapsed < 15, f"the publisher ran {elapsed:.1f} s of a 20 s clip (exit {code})"
        assert "max_continuous_duration reached" in server.log_text()
        playlist = server.wait_for_endlist(live)
        assert 1 <= len(playlist.segments) <= 3, playlist.dumps()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
