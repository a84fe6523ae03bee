"""Assets recorded from live streams (issue 13) against the real binary: the Mux seed request through
mux-python, a broadcast with a reconnect into one asset (EVENT playlist while live, VOD after, ffmpeg
and hls.js in Chromium play it), static renditions as progressive MP4s that seek, the Assets API and
its errors, asset webhooks, the recordings budget, kill -9 mid-broadcast, CMAF recordings, and
assets outliving their stream."""
import hashlib
import json
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import mux_python
import pytest
import requests

from api_helpers import API, assert_error, call, data, ffmpeg_decode_url, session, snapshot, wait_status
from conftest import ONAIR, Onair, finish, make_clip, require
from hlsjs import hlsjs_module, hlsjs_plays
from test_webhooks import SECRET, assert_envelope, webhook_lines
from webhook_receiver import Receiver

ASSETS = "/video/v1/assets"
PUBLIC = mux_python.PlaybackPolicy.PUBLIC


# ---------------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture
def servers():
    """Makes onair servers with their own options (webhooks, recordings limits); stops and removes them."""
    require(ONAIR)
    made = []

    def make(extra=(), **options):
        root = Path(tempfile.mkdtemp(prefix="onair-e2e-assets-"))
        server = Onair(root, extra=list(extra), **options)
        made.append(server)
        return server

    yield make
    for server in made:
        if server.process and server.process.poll() is None:
            server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def receivers():
    made = []

    def make(*args, **kwargs):
        receiver = Receiver(*args, **kwargs)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def sdk(onair):
    """mux-python's LiveStreamsApi, AssetsApi and PlaybackIDApi on onair.base_url (TLS verified)."""
    cfg = mux_python.Configuration(host=onair.base_url)
    cfg.username, cfg.password = onair.write_token
    cfg.ssl_ca_cert = str(onair.certificate)
    client = mux_python.ApiClient(cfg)
    return mux_python.LiveStreamsApi(client), mux_python.AssetsApi(client), mux_python.PlaybackIDApi(client)


def create_stream(onair, s=None, **body):
    """POST a live stream with new_asset_settings (public playback on both unless given)."""
    body.setdefault("playback_policies", ["public"])
    body.setdefault("new_asset_settings", {"playback_policies": ["public"]})
    return data(call(s or session(onair), onair, "POST", API, json=body), 201)


def get_stream(onair, stream_id, s=None):
    return data(call(s or session(onair), onair, "GET", f"{API}/{stream_id}"), 200)


def get_asset(onair, asset_id, s=None):
    return data(call(s or session(onair), onair, "GET", f"{ASSETS}/{asset_id}"), 200)


def wait_active_asset(onair, stream_id, other_than=None, timeout=20, s=None):
    """The stream's active_asset_id once it has one (other than `other_than`)."""
    s = s or session(onair)
    deadline = time.monotonic() + timeout
    while True:
        stream = get_stream(onair, stream_id, s)
        if stream.get("active_asset_id") and stream["active_asset_id"] != other_than:
            return stream["active_asset_id"]
        assert time.monotonic() < deadline, f"no new active_asset_id after {timeout} s: {stream}\n{onair.log_text()[-3000:]}"
        time.sleep(0.1)


def wait_asset(onair, asset_id, predicate, what, timeout=30, s=None):
    s = s or session(onair)
    deadline = time.monotonic() + timeout
    while True:
        asset = get_asset(onair, asset_id, s)
        if predicate(asset):
            return asset
        assert time.monotonic() < deadline, f"asset {asset_id} not {what} after {timeout} s: {json.dumps(asset)}\n{onair.log_text()[-3000:]}"
        time.sleep(0.2)


def wait_completed(onair, asset_id, timeout=30, s=None):
    return wait_asset(onair, asset_id, lambda a: a["is_live"] is False, "completed (is_live false)", timeout, s)


def wait_renditions(onair, asset_id, timeout=60, s=None):
    return wait_asset(onair, asset_id, lambda a: a["static_renditions"]["files"] and
                      all(f["status"] != "preparing" for f in a["static_renditions"]["files"]),
                      "with its static renditions built", timeout, s)


def asset_pid(asset):
    public = [p["id"] for p in asset["playback_ids"] if p["policy"] == "public"]
    assert public, asset
    return public[0]


def media_playlist(onair, pid):
    r = requests.get(f"{onair.plain_url}/{pid}/index.m3u8", timeout=10)
    assert r.status_code == 200, f"{pid}/index.m3u8 -> {r.status_code}: {r.text[:500]}"
    return r.text


def extinfs(text):
    return [float(line.split(":", 1)[1].split(",", 1)[0]) for line in text.splitlines() if line.startswith("#EXTINF:")]


def segment_uris(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def assert_vod(text):
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text, text
    assert "#EXT-X-MEDIA-SEQUENCE:0" in text, text


def assert_event(text):
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text, text
    assert "#EXT-X-MEDIA-SEQUENCE:0" in text and "#EXT-X-ENDLIST" not in text, text


def ffprobe_duration(url):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"ffprobe {url}: {out.stderr}"
    return float(out.stdout.strip())


def ffprobe_streams(url):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
                          "-of", "json", url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"ffprobe {url}: {out.stderr}"
    return json.loads(out.stdout)["streams"]


def video_frames(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_packets", "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"ffprobe {path}: {out.stderr}"
    return int(json.loads(out.stdout)["streams"][0]["nb_read_packets"])


def recorded_seconds(directory, uris, fps=30):
    """The media in a recording's segment files: their video frames (the clips are 30 fps), counted by
    ffprobe in each file, not read from the playlist's EXTINFs."""
    return sum(video_frames(directory / uri) for uri in uris) / fps


def file_digests(directory, uris):
    return {uri: hashlib.sha256((directory / uri).read_bytes()).hexdigest() for uri in uris}


def top_level_boxes(data_):
    """The types of an MP4's top-level boxes, in order."""
    boxes, offset = [], 0
    while offset + 8 <= len(data_):
        size = int.from_bytes(data_[offset:offset + 4], "big")
        kind = data_[offset + 4:offset + 8]
        if size == 1:
            size = int.from_bytes(data_[offset + 8:offset + 16], "big")
        elif size == 0:
            size = len(data_) - offset
        assert size >= 8, f"a box of {size} bytes at {offset}"
        boxes.append(kind)
        offset += size
    assert offset == len(data_), f"the boxes end at {offset}, the file at {len(data_)}"
    return boxes


def decoded_video_frames(url, seek):
    """How many video frames `ffmpeg -ss seek -i url -frames:v 1` decodes, and what it printed as errors."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-ss", str(seek), "-i", url, "-frames:v", "1", "-map", "0:v",
                          "-f", "framecrc", "-"], capture_output=True, text=True, timeout=60)
    frames = [line for line in out.stdout.splitlines() if line and not line.startswith("#")]
    return len(frames), out.stderr.strip() + ("" if out.returncode == 0 else f" (exit {out.returncode})")


def assert_progressive(onair, asset, rendition, *, video):
    """A built static rendition as its playback URL serves it: progressive MP4 (ftyp, moov before mdat),
    ranges, ?download, ffprobe's duration is the asset's, and (video) a frame decodes after a seek."""
    pid = asset_pid(asset)
    name = rendition["name"]
    url = f"{onair.plain_url}/{pid}/{name}"
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, f"{name} -> {r.status_code}: {r.text[:300]}"
    assert r.headers["Content-Type"] == ("video/mp4" if video else "audio/mp4"), r.headers
    body = r.content
    assert rendition["status"] == "ready" and int(rendition["filesize"]) == len(body), (rendition, len(body))
    assert body[4:8] == b"ftyp", body[:16]
    boxes = top_level_boxes(body)
    assert boxes[0] == b"ftyp" and boxes[1] == b"moov", boxes
    assert b"mdat" in boxes and boxes.index(b"moov") < boxes.index(b"mdat"), boxes
    assert rendition["bitrate"] > 0 and abs(rendition["bitrate"] - len(body) * 8 / asset["duration"]) / rendition["bitrate"] < 0.05, \
        (rendition, len(body), asset["duration"])
    # Ranges.
    part = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=30)
    assert part.status_code == 206, part.status_code
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(body)}", part.headers
    assert part.content == body[1000:2000]
    tail = requests.get(url, headers={"Range": f"bytes={len(body) - 10}-"}, timeout=30)
    assert tail.status_code == 206 and tail.content == body[-10:], (tail.status_code, tail.headers)
    assert tail.headers["Content-Range"] == f"bytes {len(body) - 10}-{len(body) - 1}/{len(body)}"
    # ?download asks the browser to save it; without it, none.
    assert "Content-Disposition" not in r.headers, r.headers
    saved = requests.get(url, params={"download": "my-recording.mp4"}, timeout=30)
    assert saved.status_code == 200 and saved.content == body
    assert saved.headers["Content-Disposition"] == 'attachment; filename="my-recording.mp4"', saved.headers
    # Over HTTPS too, as the same file.
    secure = requests.get(f"{onair.base_url}/{pid}/{name}", verify=str(onair.certificate), timeout=30)
    assert secure.status_code == 200 and secure.content == body
    # What players read.
    kinds = sorted(s["codec_type"] for s in ffprobe_streams(url))
    assert kinds == (["audio", "video"] if video else ["audio"]), kinds
    if video:
        video_stream = next(s for s in ffprobe_streams(url) if s["codec_type"] == "video")
        assert (video_stream["width"], video_stream["height"]) == (rendition["width"], rendition["height"]), (video_stream, rendition)
    duration = ffprobe_duration(url)
    assert abs(duration - asset["duration"]) <= 0.5, f"{name}: ffprobe says {duration} s, the asset {asset['duration']} s"
    if video:
        frames, errors = decoded_video_frames(url, round(asset["duration"] / 2, 2))
        assert frames == 1 and errors == "", (frames, errors)
    return body


# ---------------------------------------------------------------------------------------------------
# 1. The seed request, a broadcast with a reconnect, a second broadcast


def test_seed_request_records_a_broadcast_with_a_reconnect_into_one_asset(onair):
    streams_api, assets_api, playback_api = sdk(onair)
    clip = make_clip("av", 15)
    module = hlsjs_module()
    created = streams_api.create_live_stream(mux_python.CreateLiveStreamRequest(
        playback_policy=[PUBLIC], new_asset_settings=mux_python.CreateAssetRequest(playback_policy=[PUBLIC]),
        reconnect_window=3))
    assert created is not None, "create_live_stream returned None: not 201"
    ls = created.data
    assert ls.recent_asset_ids == [] and ls.active_asset_id is None
    assert ls.new_asset_settings is not None and ls.new_asset_settings.playback_policy == ["public"]
    stream = {"id": ls.id, "stream_key": ls.stream_key}
    s = session(onair)

    # The encoder: the clip, a short pause (inside the 3 s window), the clip again.
    results, seen = [], {}

    def encoder():
        try:
            results.append(finish(onair.publish(clip, stream)))
            time.sleep(1)
            second = onair.publish(clip, stream)
            time.sleep(4)
            mine = session(onair)
            seen["stream"] = get_stream(onair, ls.id, mine)
            seen["asset"] = get_asset(onair, seen["stream"]["active_asset_id"], mine)
            results.append(finish(second))
        except Exception as error:  # reported by the main thread
            results.append(("error", repr(error)))

    thread = threading.Thread(target=encoder, daemon=True)
    thread.start()
    try:
        asset_id = wait_active_asset(onair, ls.id, s=s)
        first = assets_api.get_asset(asset_id).data   # the SDK parses it (its enums are validated)
        assert first.live_stream_id == ls.id and first.is_live is True and first.ingest_type == "live_rtmp"
        assert first.progress.state == "live" and first.progress.progress == -1
        assert first.status == "preparing", "ready before the recording has 3 segments"
        pid = first.playback_ids[0].id
        assert first.playback_ids[0].policy == "public" and pid != ls.playback_ids[0].id
        early = requests.get(f"{onair.plain_url}/{pid}.m3u8", timeout=10)
        assert early.status_code == 412, f"{pid}.m3u8 before the first segment -> {early.status_code}: {early.text[:300]}"
        lookup = playback_api.get_asset_or_livestream_id(pid).data
        assert (lookup.id, lookup.policy, lookup.object.type, lookup.object.id) == (pid, "public", "asset", asset_id)

        ready = wait_asset(onair, asset_id, lambda a: a["status"] == "ready", "ready", timeout=30, s=s)
        assert ready["is_live"] is True and ready["progress"] == {"state": "live", "progress": -1}
        event = media_playlist(onair, pid)
        assert_event(event)
        assert len(extinfs(event)) >= 3, event
        d1 = ready["duration"]
        assert isinstance(d1, (int, float)) and d1 >= 5.9, ready
        for base, verify in ((onair.plain_url, None), (onair.base_url, str(onair.certificate))):
            mv = requests.get(f"{base}/{pid}.m3u8", verify=verify, timeout=10)
            assert mv.status_code == 200 and "#EXT-X-STREAM-INF:" in mv.text and f"{pid}/index.m3u8" in mv.text, mv.text

        # hls.js in Chromium plays the recording while it is live.
        state, requested = hlsjs_plays(onair.base_url, pid, module, seconds=4)
        assert state["fatal"] == [] and state["width"] == 1280, state
        assert any(f"/{pid}/index.m3u8" in url for url in requested), requested

        later = get_asset(onair, asset_id, s)
        assert later["is_live"] is True and later["duration"] > d1, (d1, later["duration"])
        grown = media_playlist(onair, pid)
        assert_event(grown)
        assert len(extinfs(grown)) > len(extinfs(event)) and segment_uris(grown)[:len(segment_uris(event))] == segment_uris(event)
    finally:
        thread.join(timeout=90)
    assert not thread.is_alive(), "the encoder did not finish"
    assert [r[0] for r in results] == [0, 0], results

    # The reconnect continued the same asset, live.
    assert seen["stream"]["active_asset_id"] == asset_id and seen["stream"]["status"] == "active", seen["stream"]
    assert seen["asset"]["is_live"] is True and len(seen["asset"]["recording_times"]) == 2, seen["asset"]

    # After the window: one final asset, a VOD playlist with one discontinuity.
    final = wait_completed(onair, asset_id, timeout=20, s=s)
    assert final["status"] == "ready" and final["progress"] == {"state": "completed", "progress": 100}, final
    vod = media_playlist(onair, pid)
    assert_vod(vod)
    assert vod.count("#EXT-X-DISCONTINUITY\n") == 1, vod
    uris = segment_uris(vod)
    directory = onair.recordings_dir / asset_id
    media = recorded_seconds(directory, uris)
    assert abs(final["duration"] - media) <= 0.5, f"duration {final['duration']}, the segment files hold {media} s"
    assert abs(final["duration"] - sum(extinfs(vod))) <= 0.01, (final["duration"], sum(extinfs(vod)))
    assert abs(final["duration"] - 30) <= 1.0, f"two 15 s broadcasts recorded as {final['duration']} s"
    probed = ffprobe_duration(f"{onair.plain_url}/{pid}.m3u8")
    assert abs(probed - final["duration"]) <= 0.5, (probed, final["duration"])
    assert ffmpeg_decode_url(f"{onair.base_url}/{pid}.m3u8", ca_file=onair.certificate) == ""

    times = final["recording_times"]
    assert [t["type"] for t in times] == ["content", "content"], times
    starts = [datetime.fromisoformat(t["started_at"].replace("Z", "+00:00")) for t in times]
    gap = (starts[1] - starts[0]).total_seconds()
    assert 14 <= gap <= 25, f"the second stretch started {gap} s after the first"
    assert abs(sum(t["duration"] for t in times) - final["duration"]) <= 0.01 and all(abs(t["duration"] - 15) <= 1 for t in times), times

    video, audio = final["tracks"]
    assert video["type"] == "video" and (video["max_width"], video["max_height"], video["max_frame_rate"]) == (1280, 720, 30), video
    assert audio["type"] == "audio" and audio["max_channels"] == 1 and audio["max_channel_layout"] == "mono", audio
    assert abs(video["duration"] - final["duration"]) <= 0.5 and video["id"] != audio["id"]
    assert (final["max_stored_resolution"], final["resolution_tier"], final["aspect_ratio"], final["max_stored_frame_rate"]) == \
        ("HD", "720p", "16:9", 30), final
    assert final["master_access"] == "none" and final["mp4_support"] == "none" and final["ingest_type"] == "live_rtmp"
    assert final["static_renditions"] == {"status": "disabled", "files": []}, final["static_renditions"]
    assert final["created_at"].isdigit() and abs(int(final["created_at"]) - time.time()) < 120

    # The SDK reads the final asset and lists it under its stream.
    got = assets_api.get_asset(asset_id).data
    assert got.is_live is False and got.status == "ready" and got.duration == final["duration"]
    assert len(got.recording_times) == 2 and got.recording_times[0].started_at is not None
    listed = assets_api.list_assets(live_stream_id=ls.id)
    assert [a.id for a in listed.data] == [asset_id] and listed.next_cursor is None

    # hls.js plays it as VOD.
    state, _ = hlsjs_plays(onair.base_url, pid, module, seconds=4)
    assert state["fatal"] == [] and state["width"] == 1280, state

    # A new broadcast after idle is a new asset.
    assert streams_api.get_live_stream(ls.id).data.status == "idle"
    again = onair.publish(make_clip("av", 6), stream)
    second_id = wait_active_asset(onair, ls.id, other_than=asset_id, s=s)
    code, err = finish(again)
    assert code == 0, err
    after = streams_api.get_live_stream(ls.id).data
    assert after.recent_asset_ids == [asset_id, second_id] and after.active_asset_id == second_id, after
    second = wait_completed(onair, second_id, timeout=20, s=s)
    assert second["status"] == "ready" and abs(second["duration"] - 6) <= 1.0 and len(second["recording_times"]) == 1, second
    assert asset_pid(second) != pid
    assert {a.id for a in assets_api.list_assets(live_stream_id=ls.id).data} == {asset_id, second_id}
    assert get_asset(onair, asset_id, s)["duration"] == final["duration"], "the first asset changed"


# ---------------------------------------------------------------------------------------------------
# 2. Static renditions


def test_static_renditions_are_progressive_mp4s_that_seek(onair):
    clip = make_clip("av", 12)
    s = session(onair)
    stream = create_stream(onair, s, reconnect_window=0, new_asset_settings={
        "playback_policies": ["public"],
        "static_renditions": [{"resolution": "highest"}, {"resolution": "audio-only", "passthrough": "sound"}]})
    publisher = onair.publish(clip, stream)
    try:
        asset_id = wait_active_asset(onair, stream["id"], s=s)
        live = wait_asset(onair, asset_id, lambda a: a["status"] == "ready", "ready", s=s)
        assert live["is_live"] is True
        files = live["static_renditions"]["files"]
        assert live["static_renditions"]["status"] == "preparing", live["static_renditions"]
        assert [(f["name"], f["ext"], f["resolution"], f["status"], f.get("passthrough")) for f in files] == \
            [("highest.mp4", "mp4", "highest", "preparing", None), ("audio.m4a", "m4a", "audio-only", "preparing", "sound")], files
        pid = asset_pid(live)
        for name in ("highest.mp4", "audio.m4a"):  # not before they are built
            r = requests.get(f"{onair.plain_url}/{pid}/{name}", timeout=10)
            assert r.status_code == 404, f"{name} while live -> {r.status_code}"
        code, err = finish(publisher)
        assert code == 0, err
    finally:
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate()
    wait_completed(onair, asset_id, s=s)
    asset = wait_renditions(onair, asset_id, s=s)
    assert asset["static_renditions"]["status"] == "ready", asset["static_renditions"]
    highest, audio = asset["static_renditions"]["files"]
    assert (highest["name"], highest["status"], highest["width"], highest["height"], highest["resolution_tier"]) == \
        ("highest.mp4", "ready", 1280, 720, "720p"), highest
    assert (audio["name"], audio["status"], audio["resolution_tier"]) == ("audio.m4a", "ready", "audio-only"), audio
    assert audio.get("width") is None and audio.get("height") is None, audio
    assert int(highest["filesize"]) > 20 * int(audio["filesize"]) > 0, (highest, audio)
    # Asked for by the SDK's model: its enums accept what onair says.
    _, assets_api, _ = sdk(onair)
    parsed = assets_api.get_asset(asset_id).data.static_renditions
    assert parsed.status == "ready" and [f.name for f in parsed.files] == ["highest.mp4", "audio.m4a"]

    movie = assert_progressive(onair, asset, highest, video=True)
    sound = assert_progressive(onair, asset, audio, video=False)
    assert sound[8:12] == b"M4A ", sound[:16]
    directory = onair.recordings_dir / asset_id
    assert (directory / "highest.mp4").read_bytes() == movie and (directory / "audio.m4a").read_bytes() == sound
    assert not list(directory.glob(".*.tmp")), "a temporary file of the build was left"
    # The rendition's audio is the recording's: the same number of AAC frames as the segments hold.
    vod = media_playlist(onair, asset_pid(asset))
    assert_vod(vod)
    assert ffmpeg_decode_url(f"{onair.base_url}/{asset_pid(asset)}/highest.mp4", ca_file=onair.certificate) == ""


def test_mp4_support_standard_builds_highest_after_the_broadcast(onair):
    s = session(onair)
    stream = create_stream(onair, s, reconnect_window=0,
                           new_asset_settings={"playback_policies": ["public"], "mp4_support": "standard"})
    code, err = finish(onair.publish(make_clip("av", 6), stream))
    assert code == 0, err
    asset_id = get_stream(onair, stream["id"], s)["active_asset_id"]
    completed = wait_completed(onair, asset_id, s=s)
    assert completed["mp4_support"] == "standard", completed
    # mp4_support standard stands for highest.mp4 (Mux: the highest resolution MP4): asked for, then built.
    assert [f["name"] for f in completed["static_renditions"]["files"]] == ["highest.mp4"], \
        f"mp4_support standard in new_asset_settings asked for no rendition: {completed['static_renditions']}"
    asset = wait_renditions(onair, asset_id, s=s)
    [highest] = asset["static_renditions"]["files"]
    assert highest["name"] == "highest.mp4" and highest["status"] == "ready", highest
    assert_progressive(onair, asset, highest, video=True)
    r = requests.get(f"{onair.plain_url}/{asset_pid(asset)}/audio.m4a", timeout=10)
    assert r.status_code == 404, "audio.m4a was not asked for"
