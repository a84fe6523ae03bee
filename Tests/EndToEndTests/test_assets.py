"""Assets recorded from live streams (issue 13) against the real binary: the Mux seed request through
mux-python, a broadcast with a reconnect into one asset (EVENT playlist while live, VOD after, ffmpeg
and hls.js in Chromium play it), static renditions as progressive MP4s that seek, the Assets API and
its errors, asset webhooks, the recordings budget (max_bytes and min_free_bytes), kill -9
mid-broadcast (the encoder back within its window, or never), CMAF recordings, and assets outliving
their stream."""
import hashlib
import json
import os
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

ASSETS = "/video/v1/assets"
PUBLIC = mux_python.PlaybackPolicy.PUBLIC


# ---------------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture
def servers():
    """Makes onair servers with their own options (webhooks, recordings limits); stops and removes them."""
    require(ONAIR)
    made = []

    def make(extra=(), *, recordings_tmpfs=None, **options):
        """`recordings_tmpfs`: the size of a tmpfs of its own mounted on the recordings directory (as root)."""
        root = Path(tempfile.mkdtemp(prefix="onair-e2e-assets-"))
        server = Onair(root, extra=list(extra), **options)
        made.append(server)
        if recordings_tmpfs:
            server.recordings_dir.mkdir(parents=True)
            out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={recordings_tmpfs}", "tmpfs", str(server.recordings_dir)],
                                 capture_output=True, text=True)
            assert out.returncode == 0, f"cannot mount a tmpfs on {server.recordings_dir} (this test needs root): {out.stderr}"
        return server

    yield make
    for server in made:
        if server.process and server.process.poll() is None:
            server.stop()
        if os.path.ismount(server.recordings_dir):
            subprocess.run(["umount", "-l", str(server.recordings_dir)], check=False)
        shutil.rmtree(server.root, ignore_errors=True)


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


def list_assets(onair, s=None, **params):
    """GET /video/v1/assets: Mux's list envelope, {"data": [...], "next_cursor": null}; the ids."""
    r = call(s or session(onair), onair, "GET", ASSETS, params=params)
    assert r.status_code == 200, f"GET {ASSETS} {params} -> {r.status_code}: {r.text[:1000]}"
    body = r.json()
    assert set(body) == {"data", "next_cursor"} and body["next_cursor"] is None, body
    return [a["id"] for a in body["data"]]


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


def packets(path, stream="v:0"):
    """Packets of one stream of a file (`stream`: an ffprobe stream specifier), counted by ffprobe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", stream, "-show_entries",
                          "stream=nb_read_packets", "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"ffprobe {path}: {out.stderr}"
    return int(json.loads(out.stdout)["streams"][0]["nb_read_packets"])


def recorded_seconds(directory, uris, fps=30):
    """The media in a recording's segment files: their video frames (the clips are 30 fps), counted by
    ffprobe in each file, not read from the playlist's EXTINFs."""
    return sum(packets(directory / uri) for uri in uris) / fps


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
            # While the reconnect publishes: the same asset, live, with a second stretch (saved at most every 5 s).
            mine, deadline = session(onair), time.monotonic() + 12
            while time.monotonic() < deadline and second.poll() is None:
                seen["stream"] = get_stream(onair, ls.id, mine)
                seen["asset"] = get_asset(onair, seen["stream"]["active_asset_id"], mine)
                if len(seen["asset"]["recording_times"]) >= 2:
                    break
                time.sleep(0.5)
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
    # Remuxed, not re-encoded: the renditions hold the recording's frames, every one of them.
    uris = segment_uris(media_playlist(onair, asset_pid(asset)))
    recorded_video = sum(packets(directory / u) for u in uris)
    recorded_audio = sum(packets(directory / u, "a:0") for u in uris)
    assert packets(directory / "highest.mp4") == recorded_video == 12 * 30, recorded_video
    assert packets(directory / "highest.mp4", "a:0") == recorded_audio == packets(directory / "audio.m4a", "a:0"), recorded_audio
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


# ---------------------------------------------------------------------------------------------------
# 3. The Assets API: changes, and bad input that changes nothing


def recorded_asset(onair, s, seconds=6, **body):
    """A stream with new_asset_settings, one broadcast of `seconds`, its completed asset."""
    stream = create_stream(onair, s, reconnect_window=0, **body)
    code, err = finish(onair.publish(make_clip("av", seconds), stream))
    assert code == 0, err
    asset_id = get_stream(onair, stream["id"], s)["active_asset_id"]
    assert asset_id, "no active_asset_id after a broadcast"
    return stream, wait_completed(onair, asset_id, s=s)


def test_asset_api_changes_and_bad_input(onair):
    s = session(onair)
    stream, asset = recorded_asset(onair, s)
    aid, pid = asset["id"], asset_pid(asset)
    path = f"{ASSETS}/{aid}"

    def unchanged(before, what):
        assert get_asset(onair, aid, s) == before, f"{what} changed the asset"

    # PATCH.
    patched = data(call(s, onair, "PATCH", path, json={"passthrough": "first", "meta": {
        "title": "Evening show", "creator_id": "creator-1", "external_id": "ext-1"}}), 200)
    assert patched["passthrough"] == "first" and patched["meta"] == {
        "title": "Evening show", "creator_id": "creator-1", "external_id": "ext-1"}, patched
    assert get_asset(onair, aid, s) == patched
    patched = data(call(s, onair, "PATCH", path, json={"meta": {"title": "Renamed"}}), 200)
    assert patched["passthrough"] == "first" and patched["meta"]["title"] == "Renamed", "a field left out was changed"
    before = get_asset(onair, aid, s)
    for body, mentions in (({"passthrough": 5}, "passthrough"), ({"meta": "x"}, "meta"),
                           ({"meta": {"title": "t" * 513}}, "title"), ({"passthrough": "p" * 256}, "passthrough"),
                           ({"passthrough": "ok", "meta": {"creator_id": 7}}, "creator_id")):
        assert_error(call(s, onair, "PATCH", path, json=body), 400, "invalid_parameters", mentions=mentions)
        unchanged(before, f"PATCH {body}")
    r = call(s, onair, "PATCH", path, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and set(r.json()) == {"error"}, r.text
    unchanged(before, "PATCH with a body that is not JSON")
    # The read token reads, it does not write; no token does nothing.
    reader = session(onair, "read")
    assert data(call(reader, onair, "GET", path), 200) == before
    assert_error(call(reader, onair, "PATCH", path, json={"passthrough": "reader"}), 403, "forbidden")
    assert call(session(onair, None), onair, "GET", path).status_code == 401
    unchanged(before, "a PATCH by the read token")

    # Unknown assets.
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"passthrough": "x"}), ("DELETE", "", None),
                                 ("POST", "/playback-ids", {"policy": "public"}), ("GET", "/playback-ids/nope", None),
                                 ("POST", "/static-renditions", {"resolution": "highest"}),
                                 ("PUT", "/mp4-support", {"mp4_support": "standard"}),
                                 ("PUT", "/master-access", {"master_access": "none"})):
        assert_error(call(s, onair, method, f"{ASSETS}/doesnotexist{suffix}", json=body), 404, "not_found")

    # The list.
    listing = call(s, onair, "GET", ASSETS)
    assert listing.status_code == 200 and set(listing.json()) == {"data", "next_cursor"}, listing.text
    assert [a["id"] for a in listing.json()["data"]] == [aid] and listing.json()["next_cursor"] is None
    assert listing.json()["data"][0] == before
    by_stream = call(s, onair, "GET", ASSETS, params={"live_stream_id": stream["id"], "limit": 1, "page": 1}).json()
    assert [a["id"] for a in by_stream["data"]] == [aid]
    assert call(s, onair, "GET", ASSETS, params={"live_stream_id": "other"}).json()["data"] == []
    assert call(s, onair, "GET", ASSETS, params={"limit": 1, "page": 2}).json()["data"] == []
    for params, mentions in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "x"}, "limit"), ({"page": 0}, "page")):
        assert_error(call(s, onair, "GET", ASSETS, params=params), 400, "invalid_parameters", mentions=mentions)

    # Playback IDs.
    added = data(call(s, onair, "POST", f"{path}/playback-ids", json={"policy": "public"}), 201)
    assert added["policy"] == "public" and added["id"] not in (pid, stream["playback_ids"][0]["id"]), added
    assert data(call(s, onair, "GET", f"{path}/playback-ids/{added['id']}"), 200) == added
    assert data(call(s, onair, "GET", f"/video/v1/playback-ids/{added['id']}"), 200) == \
        {"id": added["id"], "policy": "public", "object": {"type": "asset", "id": aid}}
    assert [p["id"] for p in get_asset(onair, aid, s)["playback_ids"]] == [pid, added["id"]]
    vod = media_playlist(onair, added["id"])
    assert_vod(vod)
    assert vod == media_playlist(onair, pid), "two playback IDs of one asset play the same"
    with_two = get_asset(onair, aid, s)
    assert_error(call(s, onair, "POST", f"{path}/playback-ids", json={"policy": "bogus"}), 400, "invalid_parameters", mentions="policy")
    assert_error(call(s, onair, "POST", f"{path}/playback-ids", json={"policy": 1}), 400, "invalid_parameters")
    unchanged(with_two, "a bad playback-id request")
    assert call(s, onair, "DELETE", f"{path}/playback-ids/{added['id']}").status_code == 204
    assert_error(call(s, onair, "GET", f"{path}/playback-ids/{added['id']}"), 404, "not_found")
    assert_error(call(s, onair, "GET", f"/video/v1/playback-ids/{added['id']}"), 404, "not_found")
    assert_error(call(s, onair, "DELETE", f"{path}/playback-ids/{added['id']}"), 404, "not_found")
    assert requests.get(f"{onair.plain_url}/{added['id']}.m3u8", timeout=10).status_code == 404
    assert requests.get(f"{onair.plain_url}/{pid}.m3u8", timeout=10).status_code == 200
    assert [p["id"] for p in get_asset(onair, aid, s)["playback_ids"]] == [pid]

    # Static renditions asked for after the broadcast: built at once.
    before = get_asset(onair, aid, s)
    assert before["static_renditions"] == {"status": "disabled", "files": []}
    for body, mentions in (({"resolution": "1080p"}, "resolution"), ({"resolution": "capped-1080p"}, "resolution"),
                           ({}, "resolution"), ({"resolution": 720}, "resolution"),
                           ({"resolution": "highest", "passthrough": 3}, "passthrough")):
        assert_error(call(s, onair, "POST", f"{path}/static-renditions", json=body), 400, "invalid_parameters", mentions=mentions)
        unchanged(before, f"POST static-renditions {body}")
    rendition = data(call(s, onair, "POST", f"{path}/static-renditions", json={"resolution": "highest", "passthrough": "hp"}), 201)
    assert (rendition["name"], rendition["ext"], rendition["resolution"], rendition["passthrough"]) == \
        ("highest.mp4", "mp4", "highest", "hp"), rendition
    assert rendition["status"] in ("preparing", "ready"), rendition
    built = wait_renditions(onair, aid, s=s)
    [ready] = built["static_renditions"]["files"]
    assert ready["id"] == rendition["id"] and ready["status"] == "ready" and built["static_renditions"]["status"] == "ready", ready
    assert_progressive(onair, built, ready, video=True)
    file = onair.recordings_dir / aid / "highest.mp4"
    assert file.exists()
    assert_error(call(s, onair, "DELETE", f"{path}/static-renditions/nope"), 404, "not_found")
    assert call(s, onair, "DELETE", f"{path}/static-renditions/{rendition['id']}").status_code == 204
    assert not file.exists(), "the deleted rendition's file stayed"
    assert requests.get(f"{onair.plain_url}/{pid}/highest.mp4", timeout=10).status_code == 404
    assert get_asset(onair, aid, s)["static_renditions"] == {"status": "disabled", "files": []}
    assert_error(call(s, onair, "DELETE", f"{path}/static-renditions/{rendition['id']}"), 404, "not_found")

    # mp4-support (deprecated): asks for the renditions it stands for, removes the others.
    before = get_asset(onair, aid, s)
    for body in ({"mp4_support": "bogus"}, {}, {"mp4_support": 1}):
        assert_error(call(s, onair, "PUT", f"{path}/mp4-support", json=body), 400, "invalid_parameters")
        unchanged(before, f"PUT mp4-support {body}")
    audio_only = data(call(s, onair, "PUT", f"{path}/mp4-support", json={"mp4_support": "audio-only"}), 200)
    assert audio_only["id"] == aid and audio_only["mp4_support"] == "audio-only", audio_only
    assert [f["name"] for f in audio_only["static_renditions"]["files"]] == ["audio.m4a"], audio_only["static_renditions"]
    built = wait_renditions(onair, aid, s=s)
    assert_progressive(onair, built, built["static_renditions"]["files"][0], video=False)
    none = data(call(s, onair, "PUT", f"{path}/mp4-support", json={"mp4_support": "none"}), 200)
    assert none["mp4_support"] == "none" and none["static_renditions"] == {"status": "disabled", "files": []}, none
    assert requests.get(f"{onair.plain_url}/{pid}/audio.m4a", timeout=10).status_code == 404
    assert not (onair.recordings_dir / aid / "audio.m4a").exists()

    # master-access: none is what every asset has; temporary is not offered yet.
    before = get_asset(onair, aid, s)
    assert data(call(s, onair, "PUT", f"{path}/master-access", json={"master_access": "none"}), 200) == before
    for body in ({"master_access": "temporary"}, {"master_access": "sometimes"}, {}):
        assert_error(call(s, onair, "PUT", f"{path}/master-access", json=body), 400, "invalid_parameters")
        unchanged(before, f"PUT master-access {body}")

    # onair only records: no assets from a URL.
    r = call(s, onair, "POST", ASSETS, json={"input": [{"url": "https://example.com/video.mp4"}], "playback_policy": ["public"]})
    assert_error(r, 400, "invalid_parameters")
    assert [a["id"] for a in call(s, onair, "GET", ASSETS).json()["data"]] == [aid]

    # Invalid new_asset_settings: 400 and nothing created.
    streams_before = snapshot(onair)
    for settings, mentions in (({"mp4_support": "bogus"}, "mp4_support"),
                               ({"static_renditions": [{"resolution": "1080p"}]}, "resolution"),
                               ({"mp4_support": "standard", "static_renditions": [{"resolution": "highest"}]}, "static_renditions"),
                               ({"master_access": "forever"}, "master_access"),
                               ({"static_renditions": "highest"}, "static_renditions"),
                               ("public", "new_asset_settings")):
        r = call(s, onair, "POST", API, json={"playback_policies": ["public"], "new_asset_settings": settings})
        assert_error(r, 400, "invalid_parameters", mentions=mentions)
    assert snapshot(onair) == streams_before, "a rejected create left a stream behind"

    # DELETE: 204, the files go, playback ends; the stream stays.
    directory = onair.recordings_dir / aid
    assert directory.is_dir() and list(directory.glob("*.ts"))
    assert call(s, onair, "DELETE", path).status_code == 204
    assert not directory.exists(), f"the deleted asset's files stayed: {list(directory.iterdir())}"
    assert_error(call(s, onair, "GET", path), 404, "not_found")
    assert_error(call(s, onair, "DELETE", path), 404, "not_found")
    assert requests.get(f"{onair.plain_url}/{pid}.m3u8", timeout=10).status_code == 404
    assert requests.get(f"{onair.plain_url}/{pid}/index.m3u8", timeout=10).status_code == 404
    assert_error(call(s, onair, "GET", f"/video/v1/playback-ids/{pid}"), 404, "not_found")
    assert call(s, onair, "GET", ASSETS).json()["data"] == []
    assert get_stream(onair, stream["id"], s)["id"] == stream["id"]


# ---------------------------------------------------------------------------------------------------
# 4. Asset webhooks


def asset_events(receiver, asset_id):
    """The asset's events (video.asset.*), by id, in arrival order."""
    return [e for e in receiver.unique() if e["type"].startswith("video.asset.") and e["object"]["id"] == asset_id]


def test_asset_webhooks(servers, receivers):
    receiver = receivers(SECRET)
    onair = servers(webhook_lines([(receiver.url, SECRET, None, None)])).start()
    s = session(onair)
    stream = create_stream(onair, s, reconnect_window=0, new_asset_settings={
        "playback_policies": ["public"], "passthrough": "from settings", "static_renditions": [{"resolution": "highest"}]})
    code, err = finish(onair.publish(make_clip("av", 10), stream))
    assert code == 0, err
    aid = get_stream(onair, stream["id"], s)["active_asset_id"]
    wanted = ["video.asset.created", "video.asset.static_rendition.created", "video.asset.ready",
              "video.asset.live_stream_completed", "video.asset.static_rendition.ready"]
    receiver.wait_for(lambda e: {x["type"] for x in e if x["type"].startswith("video.asset.")} >= set(wanted), timeout=60,
                      what="the asset's events up to its rendition")
    final = wait_renditions(onair, aid, s=s)
    patched = data(call(s, onair, "PATCH", f"{ASSETS}/{aid}", json={"passthrough": "patched", "meta": {"title": "Hooked"}}), 200)
    receiver.wait_for(lambda e: "video.asset.updated" in [x["type"] for x in e], what="video.asset.updated")
    assert call(s, onair, "DELETE", f"{ASSETS}/{aid}").status_code == 204
    receiver.wait_for(lambda e: "video.asset.deleted" in [x["type"] for x in e], what="video.asset.deleted")
    time.sleep(0.5)
    assert not receiver.errors(), receiver.errors()

    events = asset_events(receiver, aid)
    types = [e["type"] for e in events]
    assert sorted(types) == sorted(wanted + ["video.asset.updated", "video.asset.deleted"]), types
    for earlier, later in zip(["video.asset.created", "video.asset.ready", "video.asset.live_stream_completed",
                               "video.asset.static_rendition.ready", "video.asset.updated"],
                              ["video.asset.ready", "video.asset.live_stream_completed", "video.asset.static_rendition.ready",
                               "video.asset.updated", "video.asset.deleted"]):
        assert types.index(earlier) < types.index(later), types
    assert types.index("video.asset.static_rendition.created") < types.index("video.asset.static_rendition.ready"), types
    environment = events[0]["environment"]
    for event in events:
        assert_envelope(event, environment)   # Mux's envelope; signatures were verified on arrival
        assert event["object"] == {"type": "asset", "id": aid}, event["object"]
        assert event["attempts"] == []
    # The live stream's own events say which asset is recording.
    live = [e for e in receiver.unique() if e["type"].startswith("video.live_stream.") and e["data"]["id"] == stream["id"]]
    connected = [e for e in live if e["type"] == "video.live_stream.connected"]
    assert connected and connected[0]["data"].get("active_asset_id") == aid, connected
    idle = [e for e in live if e["type"] == "video.live_stream.idle"]
    assert idle and idle[-1]["data"].get("active_asset_id") == aid and aid in idle[-1]["data"]["recent_asset_ids"], idle

    by_type = {e["type"]: e["data"] for e in events}
    for kind in ("video.asset.created", "video.asset.ready", "video.asset.live_stream_completed", "video.asset.updated",
                 "video.asset.deleted"):
        asset = by_type[kind]
        assert asset["id"] == aid and asset["live_stream_id"] == stream["id"], (kind, asset)
        assert isinstance(asset["created_at"], int) and str(asset["created_at"]) == final["created_at"], (kind, asset["created_at"])
        assert asset["ingest_type"] == "live_rtmp" and asset["playback_ids"] == final["playback_ids"], (kind, asset)
    created = by_type["video.asset.created"]
    assert created["status"] == "preparing" and created["is_live"] is True and created.get("duration") is None, created
    assert created["passthrough"] == "from settings" and created["progress"] == {"state": "live", "progress": -1}
    ready = by_type["video.asset.ready"]
    assert ready["status"] == "ready" and ready["is_live"] is True and ready["duration"] >= 5.9, ready
    completed = by_type["video.asset.live_stream_completed"]
    assert completed["status"] == "ready" and completed["is_live"] is False, completed
    assert completed["progress"] == {"state": "completed", "progress": 100}
    assert completed["duration"] == final["duration"] and abs(completed["duration"] - 10) <= 1.0, completed
    assert {k: v for k, v in completed.items() if k not in ("created_at", "static_renditions")} == \
        {k: v for k, v in final.items() if k not in ("created_at", "static_renditions")}, "live_stream_completed's data is not the asset"
    assert {**by_type["video.asset.updated"], "created_at": str(by_type["video.asset.updated"]["created_at"])} == patched
    assert by_type["video.asset.deleted"]["passthrough"] == "patched"

    rendition_created = by_type["video.asset.static_rendition.created"]
    rendition_ready = by_type["video.asset.static_rendition.ready"]
    [file] = final["static_renditions"]["files"]
    assert rendition_created["asset_id"] == aid and rendition_created["id"] == file["id"] and rendition_created["status"] == "preparing"
    assert rendition_created["name"] == "highest.mp4"
    assert rendition_ready["asset_id"] == aid
    differing = {k: (rendition_ready.get(k), file.get(k)) for k in set(rendition_ready) | set(file)
                 if k != "asset_id" and rendition_ready.get(k) != file.get(k)}
    assert differing == {}, f"static_rendition.ready's data (webhook, API) differ: {differing}"


# ---------------------------------------------------------------------------------------------------
# 5. The recordings budget


def test_a_full_recordings_budget_stops_the_recording_not_the_stream(servers, receivers):
    """recordings.max_bytes (3 MiB: about three 2 s segments of the 3000 kbit/s clip), and
    recordings.min_free_bytes on a tmpfs of its own (8 MiB, 5 MiB kept free): the recording stops with
    video.asset.warning, the live stream plays on, the asset completes with what it had."""
    clip = make_clip("av", 20)
    budget = 3 * 1024 * 1024
    cases = []
    for recordings, tmpfs, warning_type in (({"max_bytes": budget}, None, "recording_limit_reached"),
                                            ({"min_free_bytes": 5 * 1024 * 1024}, "8m", None)):
        receiver = receivers(SECRET)
        onair = servers(webhook_lines([(receiver.url, SECRET, None, None)]), recordings=recordings, recordings_tmpfs=tmpfs).start()
        stream = create_stream(onair, reconnect_window=0)
        cases.append({"onair": onair, "receiver": receiver, "stream": stream, "type": warning_type,
                      "publisher": onair.publish(clip, stream), "limits": recordings})
    try:
        for case in cases:
            onair, receiver, stream = case["onair"], case["receiver"], case["stream"]
            events = receiver.wait_for(lambda e: "video.asset.warning" in [x["type"] for x in e], timeout=30,
                                       what=f"video.asset.warning ({case['limits']})")
            [warning] = [e for e in events if e["type"] == "video.asset.warning"]
            asset = warning["data"]
            aid, pid = asset["id"], asset_pid(asset)
            assert warning["object"] == {"type": "asset", "id": aid} and asset["live_stream_id"] == stream["id"]
            assert_envelope(warning)
            assert set(asset["warning"]) == {"type", "message"} and asset["warning"]["message"], asset["warning"]
            if case["type"]:
                assert asset["warning"]["type"] == case["type"], asset["warning"]
            assert asset["is_live"] is True and asset["duration"] and asset["duration"] < 12, asset
            live_pid = stream["playback_ids"][0]["id"]
            case.update(aid=aid, pid=pid, stopped_at=asset["duration"], live_pid=live_pid, recorded=media_playlist(onair, pid),
                        live_before=len(extinfs(requests.get(f"{onair.plain_url}/{live_pid}/index.m3u8", timeout=10).text)))
            assert_event(case["recorded"])
            assert abs(sum(extinfs(case["recorded"])) - case["stopped_at"]) <= 0.01, (case["recorded"], case["stopped_at"])
        # The streams go on; the recordings do not.
        time.sleep(4.5)
        for case in cases:
            onair = case["onair"]
            live_after = len(extinfs(requests.get(f"{onair.plain_url}/{case['live_pid']}/index.m3u8", timeout=10).text))
            assert live_after >= case["live_before"] + 2, f"the live playlist stopped growing: {case['live_before']} -> {live_after}"
            assert media_playlist(onair, case["pid"]) == case["recorded"], "the recording went on past its limit"
            assert get_stream(onair, case["stream"]["id"])["status"] == "active"
            case["files"] = file_digests(onair.recordings_dir / case["aid"], segment_uris(case["recorded"]))
        for case in cases:
            code, err = finish(case["publisher"])
            assert code == 0, f"the publisher was cut when the recording stopped: {err}"
    finally:
        for case in cases:
            if case["publisher"].poll() is None:
                case["publisher"].kill()
                case["publisher"].communicate()

    for case in cases:
        onair, receiver, aid = case["onair"], case["receiver"], case["aid"]
        live = onair.wait_for_endlist(case["stream"])
        assert len(live.segments) >= 9, "the live stream did not get the whole broadcast"
        final = wait_completed(onair, aid)
        assert final["status"] == "ready" and final["progress"] == {"state": "completed", "progress": 100}, final
        assert final["duration"] == case["stopped_at"], (final["duration"], case["stopped_at"])
        vod = media_playlist(onair, case["pid"])
        assert_vod(vod)
        assert abs(sum(extinfs(vod)) - final["duration"]) <= 0.01
        directory = onair.recordings_dir / aid
        assert file_digests(directory, segment_uris(vod)) == case["files"], "recorded segments changed or went"
        assert sorted(p.name for p in directory.iterdir()) == sorted(case["files"]) + ["index.m3u8"]
        assert ffmpeg_decode_url(f"{onair.base_url}/{case['pid']}.m3u8", ca_file=onair.certificate) == ""
        if "max_bytes" in case["limits"]:
            assert sum(p.stat().st_size for p in directory.iterdir()) <= budget
        types = [e["type"] for e in asset_events(receiver, aid)]
        assert types.count("video.asset.warning") == 1 and types[-1] == "video.asset.live_stream_completed", types
        assert not receiver.errors(), receiver.errors()
        assert "recording stopped; the live stream goes on" in onair.log_text()


# ---------------------------------------------------------------------------------------------------
# 6. kill -9 mid-broadcast


def wait_recorded_segments(onair, asset_id, count, timeout=30):
    """The asset's playlist on disk once it lists `count` segments; its segment URIs."""
    path = onair.recordings_dir / asset_id / "index.m3u8"
    deadline = time.monotonic() + timeout
    while True:
        uris = segment_uris(path.read_text()) if path.exists() else []
        if len(uris) >= count:
            return uris
        assert time.monotonic() < deadline, f"{path} has {len(uris)} segments, not {count}, after {timeout} s"
        time.sleep(0.1)


def crash_mid_broadcast(onair, stream, s):
    """Publishes into `stream` until its asset has 4 segments on disk, then kill -9 of the server (the
    encoder sees its connection reset). The asset's id and what its directory held at the crash."""
    publisher = onair.publish(make_clip("av", 30, size="640x360"), stream)
    try:
        asset_id = wait_active_asset(onair, stream["id"], s=s)
        wait_recorded_segments(onair, asset_id, 4)
        onair.process.send_signal(signal.SIGKILL)
        onair.process.wait(timeout=10)
        onair.log.close()
    finally:
        if publisher.poll() is None:
            publisher.kill()
        publisher.communicate(timeout=30)
    directory = onair.recordings_dir / asset_id
    text = (directory / "index.m3u8").read_text()
    assert_event(text)
    uris = segment_uris(text)
    return asset_id, {"uris": uris, "files": file_digests(directory, uris), "seconds": sum(extinfs(text))}


def test_kill_9_mid_broadcast_keeps_and_continues_the_asset(servers):
    """The encoder comes back within its stream's 8 s window after a kill -9 and a restart: the same
    asset goes on after a discontinuity, with everything written before the crash."""
    onair = servers().start()
    s = session(onair)
    stream = create_stream(onair, s, reconnect_window=8)
    asset_id, before = crash_mid_broadcast(onair, stream, s)

    onair.start()
    s = session(onair)
    again = onair.publish(make_clip("av", 6, size="640x360"), stream)
    try:
        wait_status(onair, stream["id"], "active", timeout=20, s=s)
        assert get_stream(onair, stream["id"], s)["active_asset_id"] == asset_id, "the reconnect started another asset"
        assert get_asset(onair, asset_id, s)["is_live"] is True
        code, err = finish(again)
        assert code == 0, err
    finally:
        if again.poll() is None:
            again.kill()
            again.communicate()

    final = wait_completed(onair, asset_id, timeout=20, s=s)
    assert final["status"] == "ready" and final["progress"] == {"state": "completed", "progress": 100}, final
    vod = media_playlist(onair, asset_pid(final))
    assert_vod(vod)
    uris = segment_uris(vod)
    kept = before["uris"]
    assert uris[:len(kept)] == kept and len(uris) > len(kept), (kept, uris)
    assert file_digests(onair.recordings_dir / asset_id, kept) == before["files"], "a segment from before the crash changed"
    lines = vod.splitlines()
    first_new = lines.index(uris[len(kept)])
    assert "#EXT-X-DISCONTINUITY" in lines[lines.index(kept[-1]) + 1:first_new], "no discontinuity where the restart took over"
    assert vod.count("#EXT-X-DISCONTINUITY\n") == 1, vod
    assert abs(final["duration"] - (before["seconds"] + 6)) <= 1.0, (final["duration"], before["seconds"])
    assert abs(final["duration"] - sum(extinfs(vod))) <= 0.01
    assert get_stream(onair, stream["id"], s)["recent_asset_ids"] == [asset_id]
    assert [t["type"] for t in final["tracks"]] == ["video", "audio"], final["tracks"]
    assert "continuing an interrupted recording" in onair.log_text()
    # recording_times: the stretch before the crash, whole, and the one after it.
    times = final["recording_times"]
    assert len(times) == 2 and abs(times[0]["duration"] - before["seconds"]) <= 0.01 and \
        abs(sum(t["duration"] for t in times) - final["duration"]) <= 0.01, \
        f"recording_times {times}: {before['seconds']} s were recorded before the crash, {final['duration']} s in all"
    # It plays through, every frame of it, across the discontinuity. ffmpeg's HLS demuxer lines up the
    # restarted clock by the segment's first packet out (audio, 46 ms after the IDR), so its null muxer
    # may complain of the next video timestamps there: that is ffmpeg's stitching, not the media. Any
    # other message fails, and so does a frame lost.
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", f"{onair.plain_url}/{asset_pid(final)}.m3u8",
                          "-map", "0:v", "-f", "framemd5", "-"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    other = [line for line in out.stderr.splitlines() if "non monotonically increasing dts to muxer" not in line]
    assert other == [], other
    decoded = len([line for line in out.stdout.splitlines() if line and not line.startswith("#")])
    assert decoded == sum(packets(onair.recordings_dir / asset_id / uri) for uri in uris), decoded


def test_kill_9_mid_broadcast_then_no_encoder_completes_the_asset(servers):
    """Nobody publishes again after a kill -9 and a restart: once the stream's 2 s window has passed,
    the asset is completed with what was written before the crash, and plays as VOD."""
    onair = servers().start()
    s = session(onair)
    stream = create_stream(onair, s, reconnect_window=2)
    asset_id, before = crash_mid_broadcast(onair, stream, s)

    onair.start()
    s = session(onair)
    final = wait_completed(onair, asset_id, timeout=20, s=s)
    assert final["status"] == "ready" and final["progress"] == {"state": "completed", "progress": 100}, final
    assert get_stream(onair, stream["id"], s)["status"] == "idle"
    assert get_stream(onair, stream["id"], s)["recent_asset_ids"] == [asset_id]
    vod = media_playlist(onair, asset_pid(final))
    assert_vod(vod)
    assert segment_uris(vod) == before["uris"], "the completed asset does not list what was written before the crash"
    assert file_digests(onair.recordings_dir / asset_id, before["uris"]) == before["files"]
    assert abs(final["duration"] - before["seconds"]) <= 0.01, (final["duration"], before)
    assert "completing a recording a restart interrupted" in onair.log_text()
    times = final["recording_times"]
    assert len(times) == 1 and abs(times[0]["duration"] - final["duration"]) <= 0.01, \
        f"recording_times do not cover what was recorded before the crash: {times}, duration {final['duration']}"
    assert [t["type"] for t in final["tracks"]] == ["video", "audio"], f"the tracks recorded before the crash: {final}"
    assert (final["tracks"][0]["max_width"], final["tracks"][0]["max_height"]) == (640, 360), final["tracks"]
    multivariant = requests.get(f"{onair.plain_url}/{asset_pid(final)}.m3u8", timeout=10)
    assert multivariant.status_code == 200, \
        f"the completed asset's {asset_pid(final)}.m3u8 -> {multivariant.status_code} {multivariant.text}: {json.dumps(final)}"
    assert ffmpeg_decode_url(f"{onair.base_url}/{asset_pid(final)}.m3u8", ca_file=onair.certificate) == ""


# ---------------------------------------------------------------------------------------------------
# 7. CMAF recordings


def test_cmaf_recording_plays_and_remuxes(onair):
    """Reduced and low latency streams record CMAF (fMP4 segments, init sections, EXT-X-MAP); the
    recording plays and its static renditions are built from the fragments."""
    clip = make_clip("av", 10)
    s = session(onair)
    settings = {"playback_policies": ["public"], "static_renditions": [{"resolution": "highest"}, {"resolution": "audio-only"}]}
    streams = [create_stream(onair, s, latency_mode=mode, reconnect_window=0, new_asset_settings=settings) for mode in ("reduced", "low")]
    publishers = [onair.publish(clip, stream) for stream in streams]
    try:
        ids = [wait_active_asset(onair, stream["id"], s=s) for stream in streams]
        for aid in ids:
            live = wait_asset(onair, aid, lambda a: a["status"] == "ready", "ready", s=s)
            event = media_playlist(onair, asset_pid(live))
            assert_event(event)
            assert '#EXT-X-MAP:URI="init0.mp4"' in event and all(u.endswith(".m4s") for u in segment_uris(event)), event
        for publisher in publishers:
            code, err = finish(publisher)
            assert code == 0, err
    finally:
        for publisher in publishers:
            if publisher.poll() is None:
                publisher.kill()
                publisher.communicate()
    for stream, aid in zip(streams, ids):
        final = wait_completed(onair, aid, s=s)
        assert final["status"] == "ready" and abs(final["duration"] - 10) <= 1.0, final
        pid = asset_pid(final)
        directory = onair.recordings_dir / aid
        names = sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
        assert "init0.mp4" in names and not any(n.endswith(".ts") for n in names), names
        vod = media_playlist(onair, pid)
        assert_vod(vod)
        assert '#EXT-X-MAP:URI="init0.mp4"' in vod, vod
        uris = segment_uris(vod)
        assert uris and all(u.endswith(".m4s") and (directory / u).exists() for u in uris), uris
        assert abs(sum(extinfs(vod)) - final["duration"]) <= 0.01
        mv = requests.get(f"{onair.plain_url}/{pid}.m3u8", timeout=10)
        assert mv.status_code == 200 and "#EXT-X-STREAM-INF:" in mv.text, mv.text
        probed = ffprobe_duration(f"{onair.plain_url}/{pid}.m3u8")
        assert abs(probed - final["duration"]) <= 0.5, (stream["latency_mode"], probed, final["duration"])
        assert ffmpeg_decode_url(f"{onair.base_url}/{pid}.m3u8", ca_file=onair.certificate) == ""
        (video, audio) = final["tracks"]
        assert (video["type"], video["max_width"], video["max_height"], audio["type"]) == ("video", 1280, 720, "audio"), final["tracks"]
        built = wait_renditions(onair, aid, s=s)
        highest, sound = built["static_renditions"]["files"]
        assert (highest["name"], highest["status"], sound["name"], sound["status"]) == \
            ("highest.mp4", "ready", "audio.m4a", "ready"), built["static_renditions"]
        assert_progressive(onair, built, highest, video=True)
        assert_progressive(onair, built, sound, video=False)


# ---------------------------------------------------------------------------------------------------
# 8. Assets outlive their stream


def test_deleting_the_stream_keeps_its_assets(onair):
    s = session(onair)
    # A stream whose broadcast is over, and one deleted while it broadcasts.
    done, asset = recorded_asset(onair, s)
    busy = create_stream(onair, s, reconnect_window=0)
    publisher = onair.publish(make_clip("av", 20), busy)
    try:
        busy_id = wait_active_asset(onair, busy["id"], s=s)
        wait_asset(onair, busy_id, lambda a: a["status"] == "ready", "ready", s=s)
        for stream in (done, busy):
            assert call(s, onair, "DELETE", f"{API}/{stream['id']}").status_code == 204
            assert_error(call(s, onair, "GET", f"{API}/{stream['id']}"), 404, "not_found")
        code, err = finish(publisher, timeout=30)
        assert code != 0, "the publisher of a deleted stream pushed its whole clip"
    finally:
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate()

    kept = get_asset(onair, asset["id"], s)
    assert kept == asset, "deleting its stream changed a completed asset"
    assert list_assets(onair, s, live_stream_id=done["id"]) == [asset["id"]]
    vod = media_playlist(onair, asset_pid(asset))
    assert_vod(vod)
    assert all((onair.recordings_dir / asset["id"] / u).exists() for u in segment_uris(vod))
    assert ffmpeg_decode_url(f"{onair.base_url}/{asset_pid(asset)}.m3u8", ca_file=onair.certificate) == ""

    # The one that was recording ends with its stream's broadcast and keeps what it recorded.
    busy_final = wait_completed(onair, busy_id, timeout=20, s=s)
    assert busy_final["status"] == "ready" and busy_final["live_stream_id"] == busy["id"], busy_final
    assert busy_final["duration"] >= 6 and busy_final["progress"] == {"state": "completed", "progress": 100}, busy_final
    vod = media_playlist(onair, asset_pid(busy_final))
    assert_vod(vod)
    assert abs(sum(extinfs(vod)) - busy_final["duration"]) <= 0.01
    assert set(list_assets(onair, s)) == {asset["id"], busy_id}
    # A stream's deletion stops its own playback, not its assets'.
    assert requests.get(f"{onair.plain_url}/{done['playback_ids'][0]['id']}.m3u8", timeout=10).status_code == 404
    assert requests.get(f"{onair.plain_url}/{asset_pid(busy_final)}.m3u8", timeout=10).status_code == 200
