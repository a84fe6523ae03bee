"""Thumbnails, animated GIF/WebP and storyboards by playback ID (issue 15), against the real binary and
Debian's ffmpeg: every format and fit mode decoded by Pillow at the asked size; `time` checked against
a clip whose every frame carries its number (12 black-or-white columns, the frame number in binary);
`latest` following a live stream; GIF frame counts; storyboard cues against their tiles; a publisher of
corrupt H.264 next to a healthy stream; signed playback IDs with right and wrong tokens; Mux's 400s;
Chromium showing a live thumbnail as an <img>.
"""
import io
import random
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

import rtmp_client
from api_helpers import call, data, session
from conftest import CLIP_DIR, Onair, finish, made_once, require
from test_signing import Signer

API = "/video/v1/live-streams"
BITS = 12
FPS = 30


def numbered_clip(seconds):
    """640x360, 30 fps H.264 (keyframe every 2 s, B-frames) + AAC FLV; the top half of frame N shows N
    in binary: column b (53 px wide) is white when bit b is set."""
    require("ffmpeg")
    path = CLIP_DIR / f"numbered-{seconds}s.flv"
    with made_once(path.name):
        if not path.exists():
            width = 640 // BITS
            pattern = f"255*bitand(trunc(N/pow(2,trunc(X/{width}))),1)*lt(Y,180)+128*gte(Y,180)"
            tmp = path.with_suffix(".tmp.flv")
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                            f"nullsrc=size=640x360:rate={FPS},geq=lum='{pattern}':cb=128:cr=128",
                            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
                            "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
                            "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-f", "flv", str(tmp)],
                           check=True, timeout=300)
            tmp.rename(path)
    return path


def frame_number(image, box=None):
    """The frame number a picture (or a box of it: x, y, w, h) of the numbered clip shows."""
    gray = image.convert("L")
    x0, y0, w, h = box or (0, 0, *gray.size)
    number = 0
    for bit in range(BITS):
        x = x0 + int((bit + 0.5) * w / BITS)
        if gray.getpixel((x, y0 + h // 4)) > 128:
            number |= 1 << bit
    return number


def get(onair, path, **kwargs):
    kwargs.setdefault("timeout", 30)
    return requests.get(onair.plain_url + path, **kwargs)


def picture(onair, path, **params):
    r = get(onair, path, params=params)
    assert r.status_code == 200, f"{path} {params} -> {r.status_code}: {r.text[:300]}"
    return Image.open(io.BytesIO(r.content)), r


def assert_image_error(r, status, code, mentions=None):
    assert r.status_code == status, f"{r.url} -> {r.status_code} (not {status}): {r.text[:300]}"
    body = r.json()
    assert set(body) == {"code", "message"} and body["code"] == code, body
    if mentions:
        assert mentions in body["message"], body


def create(onair, **body):
    body.setdefault("playback_policies", ["public"])
    body.setdefault("new_asset_settings", {"playback_policies": ["public"]})
    return data(call(session(onair), onair, "POST", API, json={"reconnect_window": 0, **body}), 201)


def wait_for(check, what, timeout=40):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"not {what} after {timeout} s"
        time.sleep(0.25)


def live_thumbnail_ready(onair, pid):
    return wait_for(lambda: get(onair, f"/{pid}/thumbnail.jpg").status_code == 200, f"{pid}/thumbnail.jpg served")


@pytest.fixture(scope="module")
def recorded():
    """One server with a finished 30 s recording of the numbered clip: (server, asset playback ID, asset)."""
    require("ffmpeg")
    root = Path(tempfile.mkdtemp(prefix="onair-e2e-images-"))
    server = Onair(root).start()
    try:
        stream = create(server)
        code, err = finish(server.publish(numbered_clip(30), stream, realtime=False), timeout=120)
        assert code == 0, err
        s = session(server)
        asset_id = wait_for(lambda: (data(call(s, server, "GET", f"{API}/{stream['id']}"), 200).get("recent_asset_ids") or [None])[-1],
                            "an asset")
        asset = wait_for(lambda: (a := data(call(s, server, "GET", f"/video/v1/assets/{asset_id}"), 200))["is_live"] is False and a,
                         "a completed asset")
        pid = [p["id"] for p in asset["playback_ids"] if p["policy"] == "public"][0]
        yield server, pid, asset
    finally:
        server.stop()


def test_every_format_and_fit_mode_gives_the_asked_size(recorded):
    onair, pid, _ = recorded
    for ext, kind in [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")]:
        image, r = picture(onair, f"/{pid}/thumbnail.{ext}")
        assert image.format == kind and image.size == (640, 360), (ext, image.format, image.size)
        assert r.headers["Content-Type"] == f"image/{'jpeg' if ext == 'jpg' else ext}" and r.headers["ETag"]
        for mode in ["stretch", "crop", "smartcrop", "pad"]:
            image, _ = picture(onair, f"/{pid}/thumbnail.{ext}", width=300, height=300, fit_mode=mode)
            assert image.format == kind and image.size == (300, 300), (ext, mode, image.size)
        image, _ = picture(onair, f"/{pid}/thumbnail.{ext}", width=300, height=300)  # preserve: inside the box
        assert image.size == (300, 169) or image.size == (300, 168), image.size
        image, _ = picture(onair, f"/{pid}/thumbnail.{ext}", width=320)
        assert image.size == (320, 180), image.size
        image, _ = picture(onair, f"/{pid}/thumbnail.{ext}", height=90)
        assert image.size == (160, 90), image.size
    # pad keeps the picture and adds black bars; crop fills the box.
    padded, _ = picture(onair, f"/{pid}/thumbnail.png", width=300, height=300, fit_mode="pad")
    assert padded.convert("L").getpixel((150, 5)) < 20 and padded.convert("L").getpixel((150, 295)) < 20
    cropped, _ = picture(onair, f"/{pid}/thumbnail.png", width=300, height=300, fit_mode="crop")
    assert cropped.convert("L").getpixel((150, 295)) > 100  # the grey lower half, no bar
    rotated, _ = picture(onair, f"/{pid}/thumbnail.png", rotate=90, width=180)
    assert rotated.size == (180, 320), rotated.size
    plain, _ = picture(onair, f"/{pid}/thumbnail.png", time=10)
    flipped, _ = picture(onair, f"/{pid}/thumbnail.png", time=10, flip_v="true")
    assert plain.convert("L").getpixel((320, 300)) > 100 and flipped.convert("L").getpixel((320, 60)) > 100  # grey half moved up


def test_time_picks_the_frame_and_the_default_is_the_middle(recorded):
    onair, pid, asset = recorded
    for seconds in [0, 1.5, 3.0, 7.25, 12.9, 21.0, 29.5]:
        image, _ = picture(onair, f"/{pid}/thumbnail.png", time=seconds)
        assert abs(frame_number(image) - round(seconds * FPS)) <= 1, (seconds, frame_number(image))
    middle, _ = picture(onair, f"/{pid}/thumbnail.png")
    assert abs(frame_number(middle) - asset["duration"] / 2 * FPS) <= 2, (frame_number(middle), asset["duration"])
    past, _ = picture(onair, f"/{pid}/thumbnail.png", time=999)  # past the end: the last moments
    assert frame_number(past) >= 30 * FPS - 10, frame_number(past)
    # Cached: the same bytes and ETag, and 304 for If-None-Match.
    first, again = get(onair, f"/{pid}/thumbnail.jpg?time=4"), get(onair, f"/{pid}/thumbnail.jpg?time=4")
    assert first.content == again.content and first.headers["ETag"] == again.headers["ETag"]
    assert get(onair, f"/{pid}/thumbnail.jpg?time=4", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_animated_gif_and_webp_have_the_asked_length_and_rate(recorded):
    onair, pid, _ = recorded
    gif, r = picture(onair, f"/{pid}/animated.gif", start=2, end=5, fps=10)
    assert r.headers["Content-Type"] == "image/gif" and gif.format == "GIF" and gif.is_animated
    assert gif.size == (320, 180), gif.size  # Mux's default width
    assert abs(gif.n_frames - 30) <= 1, gif.n_frames
    assert gif.info["duration"] == 100, gif.info  # 10 fps
    gif.seek(0)
    assert abs(frame_number(gif.convert("RGB")) - 60) <= 3, frame_number(gif.convert("RGB"))
    gif.seek(gif.n_frames - 1)
    assert abs(frame_number(gif.convert("RGB")) - 147) <= 4, frame_number(gif.convert("RGB"))
    webp, r = picture(onair, f"/{pid}/animated.webp", start=10, end=11, width=200)
    assert r.headers["Content-Type"] == "image/webp" and webp.format == "WEBP" and webp.is_animated
    assert webp.size == (200, 112) or webp.size == (200, 113), webp.size
    assert abs(webp.n_frames - 15) <= 1, webp.n_frames  # 15 fps by default
    default, _ = picture(onair, f"/{pid}/animated.gif")
    assert abs(default.n_frames - 75) <= 2, default.n_frames  # 0..5 s at 15 fps


def test_storyboard_cues_point_at_tiles_that_show_their_time(recorded):
    onair, pid, asset = recorded
    r = get(onair, f"/{pid}/storyboard.vtt")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/vtt"), r.text[:300]
    cues = re.findall(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> [\d:.]+\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", r.text)
    assert r.text.startswith("WEBVTT") and len(cues) == 50, r.text[:500]  # under 15 min: 50 tiles
    board, rb = picture(onair, f"/{pid}/storyboard.jpg")
    assert rb.headers["Content-Type"] == "image/jpeg"
    assert board.size == (2560, 720), board.size  # 10 x 5 tiles of 256 x 144
    for h, m, s, ms, url, x, y, w, hh in cues:
        start = int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
        x, y, w, hh = int(x), int(y), int(w), int(hh)
        assert url == f"{onair.plain_url}/{pid}/storyboard.jpg", url
        assert (w, hh) == (256, 144) and x + w <= board.size[0] and y + hh <= board.size[1], (x, y, w, hh)
        shown = frame_number(board, (x, y, w, hh))
        # The keyframe starting the segment that holds the cue's time: at most one GOP (2 s) early.
        assert start * FPS - 61 <= shown <= start * FPS + 1, (start, shown)
    meta = get(onair, f"/{pid}/storyboard.json", params={"format": "png"}).json()
    assert meta["url"] == f"{onair.plain_url}/{pid}/storyboard.png" and meta["tile_width"] == 256 and meta["tile_height"] == 144
    assert len(meta["tiles"]) == 50 and abs(meta["duration"] - asset["duration"]) < 0.1, meta
    assert [(t["x"], t["y"]) for t in meta["tiles"][:11]] == [(i * 256, 0) for i in range(10)] + [(0, 144)]
    png, _ = picture(onair, f"/{pid}/storyboard.png")
    assert png.format == "PNG" and png.size == (2560, 720)


def test_wrong_parameters_get_mux_400s_and_unknown_ids_404(recorded):
    onair, pid, _ = recorded
    for path, params, mentions in [
        ("thumbnail.jpg", {"width": "0"}, "width"), ("thumbnail.jpg", {"width": "abc"}, "width"),
        ("thumbnail.jpg", {"width": "5000"}, "width"), ("thumbnail.jpg", {"time": "-1"}, "time"),
        ("thumbnail.jpg", {"time": "nan"}, "time"), ("thumbnail.jpg", {"rotate": "45"}, "rotate"),
        ("thumbnail.jpg", {"fit_mode": "crop", "width": "100"}, "fit_mode"), ("thumbnail.jpg", {"fit_mode": "zoom"}, "fit_mode"),
        ("thumbnail.jpg", {"flip_h": "maybe"}, "flip_h"), ("thumbnail.jpg", {"latest": "true"}, "latest"),
        ("animated.gif", {"start": "0", "end": "11"}, "end"), ("animated.gif", {"start": "3", "end": "3.1"}, "end"),
        ("animated.gif", {"fps": "31"}, "fps"), ("animated.gif", {"width": "641"}, "width"),
        ("storyboard.vtt", {"format": "gif"}, "format"), ("storyboard.jpg", {"asset_start_time": "5", "asset_end_time": "2"}, "asset_end_time"),
    ]:
        assert_image_error(get(onair, f"/{pid}/{path}", params=params), 400, 3, mentions)
    assert_image_error(get(onair, "/NoSuchPlaybackId/thumbnail.jpg"), 404, 5)
    assert get(onair, f"/{pid}/thumbnail.gif").status_code == 404  # not an image Mux makes
    assert_image_error(get(onair, f"/{pid}/thumbnail.jpg", params={"token": "x.y.z"}), 403, 7, "public")


def test_live_thumbnails_follow_the_broadcast(onair):
    stream = create(onair)
    pid = stream["playback_ids"][0]["id"]
    assert_image_error(get(onair, f"/{pid}/thumbnail.jpg"), 412, 9)  # not live yet
    publisher = onair.publish(numbered_clip(60), stream)
    try:
        started = time.monotonic()
        live_thumbnail_ready(onair, pid)
        assert_image_error(get(onair, f"/{pid}/storyboard.vtt"), 400, 3, "asset")
        wait_for(lambda: time.monotonic() - started > 14, "14 s into the broadcast", 30)
        first, r = picture(onair, f"/{pid}/thumbnail.png")
        elapsed = time.monotonic() - started
        shown = frame_number(first)
        # The newest segment's first picture: a keyframe (every 60 frames), at most a few segments behind the publisher.
        assert shown % 60 == 0 and elapsed * FPS - 8 * 60 <= shown <= elapsed * FPS + 30, (shown, elapsed)
        assert picture(onair, f"/{pid}/thumbnail.png", latest="true")[1].content == r.content  # latest is the default
        # `time` counts from the broadcast's start; the live window (40 segments here) still holds it.
        at5, _ = picture(onair, f"/{pid}/thumbnail.png", time=5)
        assert abs(frame_number(at5) - 150) <= 1, frame_number(at5)
        gif, _ = picture(onair, f"/{pid}/animated.gif", start=4, end=6)
        assert abs(gif.n_frames - 30) <= 1 and abs(frame_number(gif.convert("RGB")) - 120) <= 3
        # Later: a newer picture once latest_interval (10 s) has passed.
        time.sleep(12)
        later, _ = picture(onair, f"/{pid}/thumbnail.png")
        assert frame_number(later) > shown, (frame_number(later), shown)
    finally:
        publisher.kill()
        publisher.wait()


def corrupt_tags(clip, seed=7):
    """The clip's FLV tags with every AVC NAL unit's payload replaced by an impossible slice header and
    noise (its length prefix and NAL header byte kept, so ingest and segmenting still work); the
    sequence header (SPS/PPS) is intact."""
    rng = random.Random(seed)
    out = []
    for kind, ts, payload in rtmp_client.read_flv(clip):
        if kind == 9 and len(payload) > 5 and payload[0] & 0x0F == 7 and payload[1] == 1:
            body, i = bytearray(payload[:5]), 5
            while i + 4 <= len(payload):
                size = int.from_bytes(payload[i:i + 4], "big")
                nal = payload[i + 4:i + 4 + size]
                # first_mb_in_slice (ue(v)) starts with 11 zero bits: past the frame's macroblocks in every
                # slice, so no picture ever decodes; no 00 00 0x start-code emulation either.
                noise = bytes([0x00, 0x10]) + bytes(rng.getrandbits(8) for _ in range(max(0, len(nal) - 3)))
                body += payload[i:i + 5] + noise[:max(0, len(nal) - 1)]
                i += 4 + size
            payload = bytes(body)
        out.append((kind, ts, payload))
    return out


def test_corrupt_h264_gets_a_clean_error_and_other_streams_keep_working(onair):
    healthy, hostile = create(onair), create(onair)
    good_pid, bad_pid = healthy["playback_ids"][0]["id"], hostile["playback_ids"][0]["id"]
    publisher = onair.publish(numbered_clip(60), healthy)
    sock = rtmp_client.publish(onair.rtmp_port, hostile["stream_key"])
    try:
        tags = corrupt_tags(numbered_clip(30))

        def push():
            try:
                rtmp_client.push_tags(sock, tags, realtime=True)
            except OSError:
                pass  # closed at the test's end

        pushing = threading.Thread(target=push, daemon=True)
        pushing.start()
        live_thumbnail_ready(onair, good_pid)
        wait_for(lambda: get(onair, f"/{bad_pid}/index.m3u8").status_code == 200, "the corrupt stream live")
        time.sleep(2)
        for ext in ["jpg", "png"]:
            bad = get(onair, f"/{bad_pid}/thumbnail.{ext}", params={"width": 200})
            assert_image_error(bad, 422, 9, "decoded")
        assert_image_error(get(onair, f"/{bad_pid}/animated.gif"), 422, 9)
        good, _ = picture(onair, f"/{good_pid}/thumbnail.jpg", width=200)
        assert good.size == (200, 112) or good.size == (200, 113)
        assert get(onair, f"/{good_pid}/index.m3u8").status_code == 200
        assert onair.process.poll() is None
    finally:
        sock.close()
        publisher.kill()
        publisher.wait()


def test_signed_ids_need_a_token_of_the_right_audience_with_the_options_in_its_claims(onair):
    signer = Signer(onair)
    key = signer.key()
    stream = create(onair, playback_policies=["signed"])
    pid = stream["playback_ids"][0]["id"]
    publisher = onair.publish(numbered_clip(60), stream)
    try:
        thumb = signer.token(key, pid, aud="t", width=320, time=4)
        wait_for(lambda: get(onair, f"/{pid}/thumbnail.jpg", params={"token": thumb}).status_code == 200, "a signed thumbnail", 40)
        image, _ = picture(onair, f"/{pid}/thumbnail.png", token=thumb)
        assert image.size == (320, 180) and abs(frame_number(image) - 120) <= 1, (image.size, frame_number(image))
        # The query's options are not the token's: ignored.
        image, _ = picture(onair, f"/{pid}/thumbnail.png", token=thumb, width=100)
        assert image.size == (320, 180)
        assert_image_error(get(onair, f"/{pid}/thumbnail.jpg"), 403, 7)
        assert_image_error(get(onair, f"/{pid}/thumbnail.jpg", params={"token": signer.token(key, pid, aud="v")}), 403, 7, "aud")
        assert_image_error(get(onair, f"/{pid}/animated.gif", params={"token": thumb}), 403, 7, "aud")
        assert_image_error(get(onair, f"/{pid}/thumbnail.jpg", params={"token": signer.token(key, pid, aud="t", exp=-3600)}), 403, 7)
        assert_image_error(get(onair, f"/{pid}/thumbnail.jpg", params={"token": signer.token(key, "other", aud="t")}), 403, 7)
        gif, _ = picture(onair, f"/{pid}/animated.gif", token=signer.token(key, pid, aud="g", start=1, end=2, fps=10))
        assert abs(gif.n_frames - 10) <= 1
        bad = signer.token(key, pid, aud="t", width=99999)
        assert_image_error(get(onair, f"/{pid}/thumbnail.jpg", params={"token": bad}), 400, 3, "width")
        signer.assert_not_logged()
    finally:
        publisher.kill()
        publisher.wait()


def test_chromium_shows_the_live_thumbnail_as_the_current_picture(onair):
    require("chromium")
    from playwright.sync_api import sync_playwright
    stream = create(onair)
    pid = stream["playback_ids"][0]["id"]
    publisher = onair.publish(numbered_clip(60), stream)
    try:
        started = time.monotonic()
        live_thumbnail_ready(onair, pid)
        wait_for(lambda: time.monotonic() - started > 10, "10 s into the broadcast", 30)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=require("chromium"), args=["--no-sandbox", "--ignore-certificate-errors"])
            try:
                page = browser.new_page()
                page.goto(f"{onair.base_url}/healthz")  # same origin: the canvas may read the picture
                page.set_content(f'<img id=t src="{onair.base_url}/{pid}/thumbnail.jpg?width=640">')
                page.wait_for_function("document.getElementById('t').complete && document.getElementById('t').naturalWidth > 0",
                                       timeout=20000)
                elapsed = time.monotonic() - started
                size = page.evaluate("[document.getElementById('t').naturalWidth, document.getElementById('t').naturalHeight]")
                shot = Image.open(io.BytesIO(page.locator("#t").screenshot()))
            finally:
                browser.close()
        assert size == [640, 360], size
        shown = frame_number(shot)
        assert shown % 60 == 0 and elapsed * FPS - 8 * 60 <= shown <= elapsed * FPS + 30, (shown, elapsed)
    finally:
        publisher.kill()
        publisher.wait()


STAND_IN = """#!/bin/sh
# A stand-in for ffmpeg that misbehaves as a hostile bitstream can make a decoder misbehave, chosen by
# the thumbnail's width (ffmpeg's scale filter in its arguments).
case "$*" in
  *scale=111:*) kill -SEGV $$ ;;                                    # crashes
  *scale=222:*) exec python3 -c "bytearray(2 * 1024 ** 3)" ;;       # asks for 2 GiB (the limit is 256 MiB)
  *) exec sleep 60 ;;                                               # hangs
esac
"""


def test_a_crashing_hanging_or_greedy_decoder_fails_its_own_request_only(tmp_path):
    """The decoder's isolation, with a stand-in ffmpeg: a crash and a hang end that job (500), a memory
    hog is stopped by the address-space limit, jobs past `jobs` + `queue` get 503 at once, and playback
    and the API answer all the while."""
    script = tmp_path / "ffmpeg"
    script.write_text(STAND_IN)
    script.chmod(0o755)
    (tmp_path / "server").mkdir()
    server = Onair(tmp_path / "server", extra=["images:", f"  ffmpeg: {script}", "  timeout: 3", "  jobs: 1", "  queue: 1",
                                                "  max_memory: 268435456"]).start()
    stream = create(server)
    pid = stream["playback_ids"][0]["id"]
    publisher = server.publish(numbered_clip(60), stream)
    try:
        wait_for(lambda: get(server, f"/{pid}/index.m3u8").status_code == 200, "the stream live")
        results = {}

        def ask(name, **params):
            started = time.monotonic()
            r = get(server, f"/{pid}/thumbnail.jpg", params=params)
            results[name] = (r, time.monotonic() - started)

        hung = threading.Thread(target=ask, args=("hung",), kwargs={"width": 100})
        hung.start()
        wait_for(lambda: hanging(server), "the hanging decoder running", 10)  # it holds the one slot
        # Three more at once: one waits in the queue of one, two are refused at once.
        more = [threading.Thread(target=ask, args=(f"more{width}",), kwargs={"width": width}) for width in (101, 102, 103)]
        for thread in more:
            thread.start()
        def two_refused():
            answers = [r for name, (r, _) in list(results.items()) if name.startswith("more") and r.status_code == 503]
            return answers if len(answers) >= 2 else None

        refused = wait_for(two_refused, "two refused", 10)
        for r in refused:
            assert_image_error(r, 503, 14, "too many")
            assert r.headers["Retry-After"] == "1"
        # While a decoder hangs: the playlist, a segment and the API answer.
        playlist = get(server, f"/{pid}/index.m3u8")
        assert playlist.status_code == 200
        segment = [line for line in playlist.text.splitlines() if line and not line.startswith("#")][-1]
        assert get(server, f"/{pid}/{segment}").status_code == 200
        assert data(call(session(server), server, "GET", f"{API}/{stream['id']}"), 200)["status"] == "active"
        assert hung.is_alive(), "the hanging decoder's request should still wait"
        for thread in [hung] + more:
            thread.join(30)
        r, took = results["hung"]
        assert_image_error(r, 500, 13, "too long")
        assert took >= 2.5, took  # killed at its deadline, not before
        statuses = sorted(results[n][0].status_code for n in results if n.startswith("more"))
        assert statuses == [500, 503, 503], statuses  # the queued one ran, and hung in its turn
        assert_image_error(get(server, f"/{pid}/thumbnail.jpg", params={"width": 111}), 500, 13, "crashed")
        greedy = get(server, f"/{pid}/thumbnail.jpg", params={"width": 222})
        assert_image_error(greedy, 422, 9)
        assert "MemoryError" in server.log_text(), server.log_text()[-2000:]
        assert server.process.poll() is None
        assert get(server, f"/{pid}/index.m3u8").status_code == 200
        assert not hanging(server), "a decoder killed at its deadline is still running"
    finally:
        publisher.kill()
        publisher.wait()
        server.stop()


def hanging(server):
    """Whether a descendant of this server runs the stand-in's `sleep 60`."""
    parents, commands = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            parents[pid] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            commands[pid] = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            pass
    for pid, command in commands.items():
        if command != b"sleep\x0060\x00":
            continue
        ancestor = parents.get(pid)
        while ancestor and ancestor != server.process.pid:
            ancestor = parents.get(ancestor)
        if ancestor == server.process.pid:
            return True
    return False
