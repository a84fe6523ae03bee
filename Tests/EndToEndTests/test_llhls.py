"""Low-Latency HLS on CMAF (latency_mode "low"), CMAF without parts ("reduced"): followed by our own LL-HLS
client (llhls_client.py), decoded by ffmpeg and GStreamer, played by hls.js in Chromium."""
import re
import statistics
import subprocess
import tempfile
import threading
import time
from urllib.parse import urljoin

import pytest

from hlsjs import hlsjs_module, hlsjs_plays
from api_helpers import API, call, data, ffmpeg_decode_url, session, wait_playable, wait_segments
from conftest import finish, make_clip, require
from llhls_client import (Client, check_complete, check_decode_times, check_independent, check_sequence,
                          global_index, latency, parse_media_playlist)



def create(onair, latency_mode="low", **body):
    """A public stream with `latency_mode`; returns (stream, playback ID)."""
    body = {"playback_policies": ["public"], "latency_mode": latency_mode, "reconnect_window": 30, **body}
    stream = data(call(session(onair), onair, "POST", API, json=body), 201)
    assert stream["latency_mode"] == latency_mode, stream
    return stream, stream["playback_ids"][0]["id"]


def started_client(onair, pid, timeout=20):
    """A Client on the HTTPS playback URL, started once the media playlist lists parts."""
    wait_playable(onair.base_url, pid, timeout=timeout, verify=str(onair.certificate))
    deadline = time.monotonic() + timeout
    while True:
        client = Client(onair.base_url, pid, verify=str(onair.certificate))
        try:
            client.start()
            return client
        except AssertionError:
            assert time.monotonic() < deadline, f"no EXT-X-PART in {pid}'s playlist after {timeout} s:\n" \
                f"{client.playlists[-1].text if client.playlists else ''}\n{onair.log_text()[-3000:]}"
            time.sleep(0.2)


def stopped(publisher):
    if publisher.poll() is None:
        publisher.kill()
        publisher.communicate()


def part_problems(client):
    """Everything the client's checks find, one list."""
    assert client.parts, "no part fetched"
    return (check_complete(client.parts) + check_sequence(client.parts) + check_decode_times(client.parts)
            + check_independent(client.parts) + playlist_problems(client.playlists))


def playlist_problems(playlists):
    """LL-HLS playlist invariants across reloads: PART-TARGET, PART-HOLD-BACK and TARGETDURATION constant,
    PART-HOLD-BACK >= 3 x PART-TARGET, no part longer than PART-TARGET, a preload hint naming the next part."""
    problems, first = [], playlists[0]
    constant = lambda p: (p.part_target, p.server_control.get("PART-HOLD-BACK"), p.target_duration)
    if first.part_target is None or float(first.server_control.get("PART-HOLD-BACK", 0)) < 3 * first.part_target:
        problems.append(f"PART-TARGET {first.part_target}, SERVER-CONTROL {first.server_control}")
    for playlist in playlists:
        if constant(playlist) != constant(first):
            problems.append(f"(PART-TARGET, PART-HOLD-BACK, TARGETDURATION) {constant(playlist)} != {constant(first)}")
        listed = [p for _, _, p in playlist.listed_parts()]
        problems += [f"{p.uri} lasts {p.duration} > PART-TARGET {playlist.part_target}"
                     for p in listed if p.duration > playlist.part_target]
        if not playlist.endlist and not (listed and playlist.preload_hint
                                         and global_index(playlist.preload_hint) == global_index(listed[-1].uri) + 1):
            problems.append(f"preload hint {playlist.preload_hint} after {listed[-1].uri if listed else None}")
    return problems


def decode_parts(client):
    """What ffmpeg prints decoding each run of parts between discontinuities, its init segment first: empty."""
    runs, out = [], []
    for part in client.parts:
        if not runs or part.discontinuity:
            runs.append([client.init_data[part.map_uri]])
        runs[-1].append(part.data)
    for run in runs:
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(b"".join(run))
            f.flush()
            r = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", f.name, "-f", "null", "-"],
                               capture_output=True, text=True, timeout=120)
            out.append((r.stdout + r.stderr).strip() + ("" if r.returncode == 0 else f" (exit {r.returncode})"))
    return "\n".join(o for o in out if o)


def following(client, seconds, stop=None):
    """Runs client.follow in a thread; returns the thread and a list that gets what it raised."""
    errors = []

    def follow():
        try:
            client.follow(seconds, stop)
        except Exception as e:  # the test's thread asserts there is none
            errors.append(e)
    thread = threading.Thread(target=follow)
    thread.start()
    return thread, errors


def live_intervals(client, first_playlist):
    """Seconds between the arrivals of the parts that were not yet listed when the client started."""
    already = max(p.index for p in client.parts if p.uri in {x.uri for _, _, x in first_playlist.listed_parts()})
    arrivals = [p.arrived for p in client.parts if p.index > already]
    return [b - a for a, b in zip(arrivals, arrivals[1:])]


def test_low_latency_parts_are_complete_in_order_and_at_the_live_edge(onair, record_property):
    stream, pid = create(onair)
    publisher = onair.publish(make_clip("av", 40), stream)
    try:
        client = started_client(onair, pid)
        first = client.playlist
        client.follow(15)
        assert publisher.poll() is None, f"ffmpeg stopped early: {publisher.stderr.read()}"
    finally:
        stopped(publisher)
    assert part_problems(client) == []
    assert client.hint_failures == []
    assert first.version >= 6 and first.server_control.get("CAN-BLOCK-RELOAD") == "YES", first.text
    assert all(re.search(r"-init\d+\.mp4$", p.map_uri) for p in client.parts), {p.map_uri for p in client.parts}
    part_target = first.part_target
    assert len(client.parts) >= 0.7 * 15 / part_target, f"{len(client.parts)} parts in 15 s of PART-TARGET {part_target}"

    # Each part's DURATION is its video's; parts arrive as fast as they last (the publisher is real time).
    for part in client.parts:
        video = [r for f in part.fragments for r in f if r.track.handler == "vide"]
        media = sum(r.duration for r in video) / video[0].track.timescale
        assert abs(media - part.duration) <= 0.05, f"{part.uri}: DURATION {part.duration}, video {media:.3f} s"
    intervals = live_intervals(client, first)
    assert 0.5 * part_target <= statistics.median(intervals) <= 1.5 * part_target, intervals

    # A segment is its parts, byte for byte, and lasts as long as they do.
    fetched = {}
    for part in client.parts:
        fetched.setdefault(part.msn, []).append(part)
    complete = [s for s in client.playlist.segments if s.uri and s.parts and s.msn in fetched
                and fetched[s.msn][0].number == 0]
    assert complete, client.playlist.text
    for segment in complete:
        assert re.search(rf"-{segment.msn}\.m4s$", segment.uri), segment.uri
        parts = fetched[segment.msn]
        assert [p.uri for p in parts] == [p.uri for p in segment.parts]
        r, _ = client.get(urljoin(client.media_url, segment.uri))
        assert r.status_code == 200 and r.content == b"".join(p.data for p in parts), segment.uri
        assert abs(segment.duration - sum(p.duration for p in parts)) <= 0.01, (segment.duration, parts)

    assert decode_parts(client) == ""
    # Latency: the wall clock at each reload against the PROGRAM-DATE-TIME PART-HOLD-BACK behind the edge.
    hold_back = float(first.server_control["PART-HOLD-BACK"])
    latencies = [latency(p, p.received) for p in client.playlists]
    record_property("llhls_latency_median", round(statistics.median(latencies), 3))
    assert hold_back - 0.25 <= statistics.median(latencies) <= hold_back + 1.5, (hold_back, latencies)


def test_blocking_reloads_bad_directives_and_delta_updates(onair):
    stream, pid = create(onair)
    publisher = onair.publish(make_clip("av", 60), stream)
    try:
        client = started_client(onair, pid)
        client.follow(3)

        # A reload for the part two after the last one listed returns once that part (or a later segment) is
        # listed, not before.
        before = client.load()
        msn, part = client.next_directive(before)
        started = time.monotonic()
        after = client.load(msn, part + 1)
        elapsed = time.monotonic() - started
        listed = {(s.msn, i) for s, i, _ in after.listed_parts()}
        assert (msn, part + 1) in listed or after.segments[-1].msn > msn, after.text
        assert (msn, part + 1) not in {(s.msn, i) for s, i, _ in before.listed_parts()}
        assert elapsed > 0.2, f"the blocking reload for part {msn}.{part + 1} returned after {elapsed:.3f} s"

        # Directives the server cannot honour: far ahead, or a part without a segment.
        last = after.segments[-1].msn
        for params in ({"_HLS_msn": last + 10}, {"_HLS_msn": last + 10, "_HLS_part": 0}, {"_HLS_part": 0}):
            started = time.monotonic()
            r, _ = client.get(client.media_url, **params)
            assert r.status_code == 400, f"{params} -> {r.status_code}: {r.text[:500]}"
            assert time.monotonic() - started < 1, f"{params} was held before its 400"

        # Delta updates: once the playlist is well longer than CAN-SKIP-UNTIL, _HLS_skip=YES replaces the
        # older segments with EXT-X-SKIP.
        can_skip = float(after.server_control["CAN-SKIP-UNTIL"])
        assert can_skip >= 6 * after.target_duration, after.server_control
        long_enough = can_skip + 3 * after.target_duration
        deadline = time.monotonic() + 45
        while sum(s.duration for s in client.playlist.segments if s.uri) <= long_enough and time.monotonic() < deadline:
            client.follow(1)
        full = client.load()
        delta = client.load(*client.next_directive(full), skip=True)
        full_uris = {s.msn: s.uri for s in full.segments if s.uri}
        full_maps = {s.msn: s.map_uri for s in full.segments}
        for segment in delta.segments:
            if segment.uri and segment.msn in full_uris:
                assert segment.uri == full_uris[segment.msn], (segment, full.text, delta.text)
        if sum(s.duration for s in full.segments if s.uri) > long_enough:
            lines = delta.text.splitlines()
            skip = next((i for i, line in enumerate(lines) if line.startswith("#EXT-X-SKIP:")), None)
            assert skip is not None and delta.skipped > 0, delta.text
            assert delta.version >= 9, delta.text
            media_sequence = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MEDIA-SEQUENCE:"))
            assert media_sequence < skip, delta.text
            assert sum(s.duration for s in delta.segments) >= can_skip, delta.text
            assert delta.segments[0].msn > full.segments[0].msn, (full.text, delta.text)
            assert all(s.map_uri == full_maps[s.msn] for s in delta.segments if s.msn in full_maps), delta.text
        else:
            assert delta.segments and delta.part_target == full.part_target, delta.text
        assert publisher.poll() is None, f"ffmpeg stopped early: {publisher.stderr.read()}"
    finally:
        stopped(publisher)


def test_reconnect_and_codec_change_keep_the_part_sequence(onair):
    stream, pid = create(onair)
    first, smaller = make_clip("av", 10), make_clip("av", 10, size="640x360")
    publisher = onair.publish(first, stream)
    stop = threading.Event()
    try:
        client = started_client(onair, pid)
        follower, errors = following(client, 120, stop)
        # The same clip again within the reconnect window, then a new resolution (a new codec configuration).
        for clip in (first, smaller):
            code, err = finish(publisher, timeout=60)
            assert code == 0, err
            time.sleep(1)
            publisher = onair.publish(clip, stream)
        code, err = finish(publisher, timeout=60)
        assert code == 0, err
        assert data(call(session(onair), onair, "PUT", f"{API}/{stream['id']}/complete"), 200) == {}
        follower.join(timeout=30)
        stop.set()
        follower.join(timeout=30)
        assert not follower.is_alive() and not errors, errors
    finally:
        stop.set()
        stopped(publisher)
    assert client.playlist.endlist, f"no EXT-X-ENDLIST after complete:\n{client.playlist.text}"
    assert part_problems(client) == []
    breaks = [p for p in client.parts if p.discontinuity]
    assert len(breaks) >= 2, [(p.uri, p.msn, p.map_uri) for p in client.parts if p.number == 0]
    changes = [b for a, b in zip(client.parts, client.parts[1:]) if a.map_uri != b.map_uri]
    assert changes and all(p.discontinuity for p in changes), [(p.uri, p.map_uri, p.discontinuity) for p in changes]
    # The last MAP is the 640x360 configuration, and every run of parts decodes.
    last = client.parts[-1]
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(client.init_data[last.map_uri] + last.data)
        f.flush()
        probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=width,height",
                                "-of", "csv=p=0", f.name], capture_output=True, text=True, timeout=30)
    assert probe.stdout.strip() == "640,360", probe.stdout + probe.stderr
    assert decode_parts(client) == ""


def gstreamer_plays(url, seconds=10):
    """Seconds of video playbin3 rendered (fakesink sync=true) from `url` in `seconds`, and any error output."""
    require("gst-launch-1.0")
    cmd = ["gst-launch-1.0", "-v", "playbin3", f"uri={url}",
           "video-sink=fakesink sync=true silent=false", "audio-sink=fakesink sync=true silent=false"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        p.terminate()
        out, err = p.communicate(timeout=10)
    pts = [sum(float(x) * m for x, m in zip(t.split(":"), (3600, 60, 1)))
           for t in re.findall(r"GstBin:vbin/GstFakeSink:\w+: last-message = chain .*? pts: (\d+:\d+:[\d.]+)", out)]
    errors = [line for line in (out + err).splitlines() if "ERROR" in line]
    return (max(pts) - min(pts) if pts else 0), errors


def test_ffmpeg_and_gstreamer_play_low_and_reduced_latency(onair):
    streams = {mode: create(onair, mode) for mode in ("low", "reduced")}
    clip = make_clip("av", 40)
    publishers = [onair.publish(clip, stream) for stream, _ in streams.values()]
    try:
        for mode, (_, pid) in streams.items():
            wait_playable(onair.base_url, pid, verify=str(onair.certificate))
            text = wait_segments(onair.base_url, pid, 2, verify=str(onair.certificate))
            playlist = parse_media_playlist(text)
            assert all(s.map_uri and (s.uri or ".m4s").endswith(".m4s") for s in playlist.segments), text
            if mode == "reduced":  # CMAF segments, no parts, no blocking
                assert "#EXT-X-PART" not in text and "CAN-BLOCK-RELOAD" not in text, text
        results = {}
        threads = [threading.Thread(target=lambda m=mode, p=pid: results.setdefault(m, gstreamer_plays(
            f"{onair.plain_url}/{p}.m3u8"))) for mode, (_, pid) in streams.items()]
        for thread in threads:
            thread.start()
        for mode, (_, pid) in streams.items():
            assert ffmpeg_decode_url(f"{onair.base_url}/{pid}.m3u8", onair.certificate, seconds=6) == "", mode
        for thread in threads:
            thread.join(timeout=60)
        assert set(results) == set(streams), results
        for mode, (played, errors) in results.items():
            assert errors == [] and played >= 3, (mode, played, errors)
    finally:
        for publisher in publishers:
            stopped(publisher)


def test_audio_only_and_long_gop_streams_keep_parts_flowing(onair):
    # onair lists a stream once it has 3 segments: 30 s with a keyframe every 10 s.
    kinds = {"audio only": (make_clip("av", 60), ["-vn"]), "10 s GOP": (make_clip("av", 60, gop=300), [])}
    streams = {kind: create(onair) for kind in kinds}
    publishers = [onair.publish(clip, streams[kind][0], extra=extra) for kind, (clip, extra) in kinds.items()]
    try:
        clients, firsts, followers = {}, {}, []
        for kind, (_, pid) in streams.items():
            clients[kind] = started_client(onair, pid, timeout=45)
            firsts[kind] = clients[kind].playlist
            followers.append(following(clients[kind], 15))
        for follower, errors in followers:
            follower.join(timeout=60)
            assert not follower.is_alive() and not errors, errors
    finally:
        for publisher in publishers:
            stopped(publisher)
    for kind, client in clients.items():
        assert part_problems(client) == [], kind
        part_target = firsts[kind].part_target
        intervals = live_intervals(client, firsts[kind])
        assert len(intervals) >= 0.6 * 15 / part_target, (kind, len(intervals), part_target)
        assert 0.5 * part_target <= statistics.median(intervals) <= 1.5 * part_target, (kind, intervals)
        assert max(intervals) <= 4 * part_target + 0.5, (kind, intervals)
        handlers = {t.handler for tracks in client.inits.values() for t in tracks.values()}
        assert handlers == ({"soun"} if kind == "audio only" else {"vide", "soun"}), (kind, handlers)
        assert decode_parts(client) == "", kind
    # Segments wait for the keyframe 10 s on; parts do not, and only the keyframe's part is INDEPENDENT.
    gop = clients["10 s GOP"]
    assert gop.playlist.target_duration >= 9, gop.playlist.text
    assert 0 < sum(p.independent for p in gop.parts) <= len(gop.parts) / 10, [p.independent for p in gop.parts]


@pytest.fixture
def hlsjs():
    return hlsjs_module()


def test_hlsjs_plays_a_low_latency_stream_in_low_latency_mode(onair, hlsjs, record_property):
    stream, pid = create(onair)
    publisher = onair.publish(make_clip("av", 60), stream)
    try:
        playlist = started_client(onair, pid).playlist
        state, requested = hlsjs_plays(onair.base_url, pid, hlsjs)
    finally:
        stopped(publisher)
    record_property("hlsjs_latency", round(state["latency"], 3))
    record_property("hlsjs_behind_camera", state["behindCamera"] and round(state["behindCamera"], 3))
    assert state["fatal"] == [] and state["width"] == 1280, state
    assert state["protocols"] == ["h2"], "hls.js fetched its playlists over HTTP/2 (ALPN on the TLS listener)"
    assert state["lowLatencyMode"] and state["canBlockReload"] and state["parts"] > 0, state
    hold_back = float(playlist.server_control["PART-HOLD-BACK"])
    assert abs(state["partHoldBack"] - hold_back) < 0.001, state
    assert hold_back <= state["targetLatency"] <= hold_back + playlist.target_duration, state
    # A loose bound: hls.js never catches up (its maxLiveSyncPlaybackRate is 1) and a loaded machine plays
    # slower than real time, so its latency drifts up from targetLatency.
    assert 0 < state["latency"] < state["targetLatency"] + 2 * playlist.target_duration, state
    assert any("_HLS_msn=" in url for url in requested), requested
    assert any(re.search(r"-p\d+\.m4s$", url) for url in requested), requested
