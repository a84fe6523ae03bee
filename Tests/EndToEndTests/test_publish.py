"""Real publishers (ffmpeg, GStreamer) into onair; the HLS output checked with ffmpeg/ffprobe."""
import subprocess
import time

from conftest import decode_errors, finish, first_packet_times, make_clip, probe_streams, require

CLIP_SECONDS = 12


def test_ffmpeg_realtime_720p_with_bframes_gives_a_clean_playlist(onair):
    clip = make_clip("av", CLIP_SECONDS)
    stream = onair.create_stream(reconnect_window=1)
    assert stream["status"] == "idle"
    publisher = onair.publish(clip, stream)

    # The stream turns active once media flows, while the publisher is still pushing.
    deadline = time.monotonic() + 10
    while onair.get_stream(stream["id"])["status"] != "active":
        assert time.monotonic() < deadline, "stream never became active"
        time.sleep(0.2)
    assert onair.get_stream(stream["id"])["active_ingest_protocol"] == "rtmp"

    code, err = finish(publisher)
    assert code == 0, err
    playlist = onair.wait_for_endlist(stream)
    path = onair.playlist_path(stream)

    assert decode_errors(path) == ""
    total = sum(s.duration for s in playlist.segments)
    assert abs(total - CLIP_SECONDS) <= 0.05 * CLIP_SECONDS, f"playlist lasts {total} s, source {CLIP_SECONDS} s"
    # Cuts on the 2 s GOP: every segment but the last is 2 s; TARGETDURATION covers every EXTINF.
    assert [round(s.duration, 3) for s in playlist.segments[:-1]] == [2.0] * (len(playlist.segments) - 1)
    assert all(round(s.duration) <= playlist.target_duration for s in playlist.segments)
    assert playlist.media_sequence == 0 and playlist.is_endlist
    assert all(s.program_date_time is not None for s in playlist.segments)

    kinds = {s["codec_type"]: s for s in probe_streams(path)}
    assert kinds["video"]["codec_name"] == "h264" and (kinds["video"]["width"], kinds["video"]["height"]) == (1280, 720)
    assert kinds["audio"]["codec_name"] == "aac" and kinds["audio"]["sample_rate"] == "48000"

    first = first_packet_times(path.parent / playlist.segments[0].uri)
    assert abs(first["video"] - first["audio"]) <= 0.1, f"A/V start misaligned: {first}"

    # Back to idle once the reconnect window ran out.
    assert onair.get_stream(stream["id"])["status"] == "idle"


def test_audio_only_and_video_only_streams_list_only_their_track(onair):
    results = {}
    streams = {}
    for name, extra in {"audio": ["-vn"], "video": ["-an"]}.items():
        streams[name] = onair.create_stream(reconnect_window=1)
    publishers = {name: onair.publish(make_clip("av", CLIP_SECONDS), streams[name], extra=extra)
                  for name, extra in {"audio": ["-vn"], "video": ["-an"]}.items()}
    for name, publisher in publishers.items():
        code, err = finish(publisher)
        assert code == 0, err
    for name, stream in streams.items():
        playlist = onair.wait_for_endlist(stream)
        path = onair.playlist_path(stream)
        assert decode_errors(path) == ""
        # The PMT of every segment lists exactly the one track.
        for segment in playlist.segments:
            kinds = sorted(s["codec_type"] for s in probe_streams(path.parent / segment.uri))
            assert kinds == [name], f"{name}-only segment {segment.uri} has {kinds}"
        total = sum(s.duration for s in playlist.segments)
        assert abs(total - CLIP_SECONDS) <= 0.05 * CLIP_SECONDS, f"{name}-only playlist lasts {total} s"
        results[name] = [s.duration for s in playlist.segments]
    # Audio-only streams are cut by time.
    assert all(1.9 <= d <= 2.1 for d in results["audio"][:-1]), results["audio"]


def test_gstreamer_rtmp2sink_publishes(onair):
    require("gst-launch-1.0")
    stream = onair.create_stream(reconnect_window=1)
    # Not live sources: their timestamps are exact, so the check below does not depend on how busy the
    # machine is (live sources stamp buffers with the clock, and a starved pipeline stamps two frames
    # within one frame interval, which ffmpeg's decode check then reports). rtmp2sink pushes faster
    # than real time, which onair takes like any full-speed push.
    pipeline = (
        "videotestsrc is-live=false num-buffers=300 ! video/x-raw,width=640,height=360,framerate=30/1 "
        "! x264enc tune=zerolatency key-int-max=60 bitrate=1000 ! h264parse ! flvmux name=m streamable=true "
        f"! rtmp2sink location={onair.url(stream['stream_key'])} "
        "audiotestsrc is-live=false num-buffers=470 ! audioconvert ! avenc_aac ! aacparse ! m."
    )
    out = subprocess.run(["gst-launch-1.0", "-q", *pipeline.split()], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    playlist = onair.wait_for_endlist(stream)
    path = onair.playlist_path(stream)
    assert decode_errors(path) == ""
    kinds = {s["codec_type"]: s for s in probe_streams(path)}
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (640, 360)
    assert kinds["audio"]["codec_name"] == "aac"
    total = sum(s.duration for s in playlist.segments)
    assert 9.0 <= total <= 10.5, f"10 s of GStreamer video gave {total} s"


def test_full_speed_push_cuts_the_same_segments_as_real_time(onair):
    clip = make_clip("av", CLIP_SECONDS)
    realtime = onair.create_stream(reconnect_window=1)
    fast = onair.create_stream(reconnect_window=1)
    slow = onair.publish(clip, realtime)
    quick = onair.publish(clip, fast, realtime=False)
    for publisher in (quick, slow):
        code, err = finish(publisher)
        assert code == 0, err
    a = onair.wait_for_endlist(realtime)
    b = onair.wait_for_endlist(fast)
    assert [s.duration for s in a.segments] == [s.duration for s in b.segments]
    for x, y in zip(a.segments, b.segments):
        # Same media in each segment: same packet count and first timestamps.
        pa = first_packet_times(onair.playlist_path(realtime).parent / x.uri)
        pb = first_packet_times(onair.playlist_path(fast).parent / y.uri)
        assert pa == pb
    assert decode_errors(onair.playlist_path(fast)) == ""
