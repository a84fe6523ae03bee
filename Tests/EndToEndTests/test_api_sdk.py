"""The official Mux SDK (mux-python 5.1.2) drives every live-stream endpoint of onair over TLS; then ffmpeg publishes
with the key the SDK returned and ffmpeg and Chromium play the HTTPS playback URL."""
import threading
import time

import mux_python
import pytest
import requests
from mux_python.rest import NotFoundException

from api_helpers import ffmpeg_decode_url, wait_playable, wait_segments
from conftest import finish, make_clip, require

CLIP_SECONDS = 12
PUBLIC = mux_python.PlaybackPolicy.PUBLIC
SIGNED = mux_python.PlaybackPolicy.SIGNED


def sdk(onair, token=None):
    """LiveStreamsApi and PlaybackIDApi on onair.base_url, verifying the self-signed certificate."""
    cfg = mux_python.Configuration(host=onair.base_url)
    cfg.username, cfg.password = token or onair.write_token
    cfg.ssl_ca_cert = str(onair.certificate)   # read when ApiClient is built
    client = mux_python.ApiClient(cfg)
    return mux_python.LiveStreamsApi(client), mux_python.PlaybackIDApi(client)


def sdk_wait_status(api, stream_id, status, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        stream = api.get_live_stream(stream_id)
        assert stream is not None, "GET live stream returned no model (status code not 200?)"
        if stream.data.status == status:
            return stream.data
        assert time.monotonic() < deadline, f"status {stream.data.status}, not {status}, after {timeout} s"
        time.sleep(0.2)


def chromium_plays(url, seconds=3, timeout_ms=25000):
    """Chromium (Debian's, through Playwright) plays `url` natively past `seconds`; returns (currentTime, w, h)."""
    require("chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require("chromium"),
                                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                                          "--ignore-certificate-errors"])
        try:
            page = browser.new_page()
            page.set_content(f'<video id=v muted autoplay src="{url}"></video>')
            page.wait_for_function(f"document.getElementById('v').currentTime > {seconds}", timeout=timeout_ms)
            return page.evaluate("(() => { const v = document.getElementById('v');"
                                 " return [v.currentTime, v.videoWidth, v.videoHeight] })()")
        finally:
            browser.close()


def test_sdk_drives_every_live_stream_endpoint(onair):
    api, playback = sdk(onair)

    # Create: SDK request models; 201 maps to a LiveStreamResponse (None would mean a wrong status code).
    first = api.create_live_stream(mux_python.CreateLiveStreamRequest(
        playback_policies=[PUBLIC],
        new_asset_settings=mux_python.CreateAssetRequest(playback_policies=[PUBLIC]),
        reconnect_window=30, latency_mode="standard", passthrough="from the sdk",
        meta=mux_python.LiveStreamMetadata(title="SDK stream")))
    assert first is not None, "create_live_stream returned None: the server did not answer 201"
    ls = first.data
    assert ls.id and ls.stream_key and ls.status == "idle"
    assert ls.created_at.isdigit() and abs(int(ls.created_at) - time.time()) < 60
    assert [p.policy for p in ls.playback_ids] == ["public"] and ls.playback_ids[0].id
    assert ls.reconnect_window == 30 and ls.max_continuous_duration == 43200 and ls.latency_mode == "standard"
    assert ls.passthrough == "from the sdk" and ls.meta.title == "SDK stream"
    assert ls.new_asset_settings is not None and ls.new_asset_settings.playback_policies == ["public"]
    assert ls.recent_asset_ids == [] and ls.active_ingest_protocol is None

    # The deprecated singular alias, other booleans; no policy at all gives no playback IDs.
    second = api.create_live_stream(mux_python.CreateLiveStreamRequest(
        playback_policy=[SIGNED], test=True, audio_only=True, max_continuous_duration=600)).data
    assert [p.policy for p in second.playback_ids] == ["signed"]
    assert second.test is True and second.audio_only is True and second.max_continuous_duration == 600
    bare = api.create_live_stream(mux_python.CreateLiveStreamRequest()).data
    assert bare.playback_ids in (None, []) and bare.reconnect_window == 60

    # List: newest first, pages, filters.
    listed = api.list_live_streams()
    assert listed is not None
    assert [s.id for s in listed.data] == [bare.id, second.id, ls.id]
    assert [s.id for s in api.list_live_streams(limit=1, page=2).data] == [second.id]
    assert [s.id for s in api.list_live_streams(limit=2, page=2).data] == [ls.id]
    assert api.list_live_streams(limit=2, page=3).data == []
    assert [s.id for s in api.list_live_streams(stream_key=ls.stream_key).data] == [ls.id]
    assert {s.id for s in api.list_live_streams(status="idle").data} == {ls.id, second.id, bare.id}
    assert api.list_live_streams(status="active").data == []

    # Get.
    got = api.get_live_stream(ls.id)
    assert got is not None and got.data.id == ls.id and got.data.stream_key == ls.stream_key
    assert got.data.playback_ids[0].id == ls.playback_ids[0].id

    # Update (the SDK also sends its defaults reconnect_window=60 etc. unless given: give them).
    updated = api.update_live_stream(ls.id, mux_python.UpdateLiveStreamRequest(
        passthrough="updated", latency_mode="reduced", reconnect_window=30, max_continuous_duration=3600,
        use_slate_for_standard_latency=False, meta=mux_python.LiveStreamMetadata(title="Renamed")))
    assert updated is not None, "update_live_stream returned None: the server did not answer 200"
    u = updated.data
    assert (u.passthrough, u.latency_mode, u.reconnect_window, u.max_continuous_duration, u.meta.title) == \
        ("updated", "reduced", 30, 3600, "Renamed")
    assert u.stream_key == ls.stream_key and u.created_at == ls.created_at
    again = api.get_live_stream(ls.id).data
    assert (again.passthrough, again.latency_mode, again.max_continuous_duration, again.meta.title) == \
        ("updated", "reduced", 3600, "Renamed")
    api.update_live_stream(ls.id, mux_python.UpdateLiveStreamRequest(latency_mode="standard", reconnect_window=30))

    # Reset the stream key: 201, a new key; the old one finds nothing.
    reset = api.reset_stream_key(ls.id)
    assert reset is not None, "reset_stream_key returned None: the server did not answer 201"
    assert reset.data.id == ls.id and reset.data.stream_key and reset.data.stream_key != ls.stream_key
    assert api.list_live_streams(stream_key=ls.stream_key).data == []
    assert [s.id for s in api.list_live_streams(stream_key=reset.data.stream_key).data] == [ls.id]

    # Playback IDs: create, get, look up, delete.
    created = api.create_live_stream_playback_id(ls.id, mux_python.CreatePlaybackIDRequest(policy=SIGNED))
    assert created is not None, "create_live_stream_playback_id returned None: the server did not answer 201"
    pid = created.data
    assert pid.id and pid.policy == "signed" and pid.id != ls.playback_ids[0].id
    assert {p.id for p in api.get_live_stream(ls.id).data.playback_ids} == {ls.playback_ids[0].id, pid.id}
    fetched = api.get_live_stream_playback_id(ls.id, pid.id)
    assert fetched is not None and (fetched.data.id, fetched.data.policy) == (pid.id, "signed")
    lookup = playback.get_asset_or_livestream_id(ls.playback_ids[0].id)
    assert lookup is not None
    assert (lookup.data.id, lookup.data.policy) == (ls.playback_ids[0].id, "public")
    assert (lookup.data.object.id, lookup.data.object.type) == (ls.id, "live_stream")
    assert api.delete_live_stream_playback_id(ls.id, pid.id) is None
    with pytest.raises(NotFoundException):
        api.get_live_stream_playback_id(ls.id, pid.id)
    with pytest.raises(NotFoundException):
        playback.get_asset_or_livestream_id(pid.id)
    assert [p.id for p in api.get_live_stream(ls.id).data.playback_ids] == [ls.playback_ids[0].id]

    # Disable / enable on an idle stream: {"data": {}} comes back as a plain dict.
    assert api.disable_live_stream(second.id).data == {}
    assert api.get_live_stream(second.id).data.status == "disabled"
    assert [s.id for s in api.list_live_streams(status="disabled").data] == [second.id]
    assert api.enable_live_stream(second.id).data == {}
    assert api.get_live_stream(second.id).data.status == "idle"

    # Delete: 204, then 404 everywhere.
    assert api.delete_live_stream(bare.id) is None
    with pytest.raises(NotFoundException):
        api.get_live_stream(bare.id)
    with pytest.raises(NotFoundException):
        api.delete_live_stream(bare.id)
    assert [s.id for s in api.list_live_streams().data] == [second.id, ls.id]


def test_sdk_stream_key_publishes_and_plays_in_ffmpeg_and_chromium(onair):
    api, playback = sdk(onair)
    clip = make_clip("av", CLIP_SECONDS)
    ls = api.create_live_stream(mux_python.CreateLiveStreamRequest(
        playback_policies=[PUBLIC], reconnect_window=30)).data
    # Publish with a key that came from the SDK (after a reset), and check the old key is refused.
    old_key = ls.stream_key
    key = api.reset_stream_key(ls.id).data.stream_key
    code, err = finish(onair.publish(clip, {"id": ls.id, "stream_key": old_key}), timeout=30)
    assert code != 0, "ffmpeg published with a stream key that was reset"

    pid = ls.playback_ids[0].id
    stream = {"id": ls.id, "stream_key": key}
    publisher = onair.publish(clip, stream)
    try:
        active = sdk_wait_status(api, ls.id, "active")
        assert active.active_ingest_protocol == "rtmp"
        assert [s.id for s in api.list_live_streams(status="active").data] == [ls.id]

        url = f"{onair.base_url}/{pid}.m3u8"
        wait_playable(onair.base_url, pid, verify=str(onair.certificate))
        wait_segments(onair.base_url, pid, 1, verify=str(onair.certificate))
        # ffmpeg follows the live playlist over HTTPS until EXT-X-ENDLIST, in the background.
        decode = {}
        decoder = threading.Thread(target=lambda: decode.setdefault("out", ffmpeg_decode_url(url)))
        decoder.start()

        current, width, height = chromium_plays(url)
        assert current > 3 and (width, height) == (1280, 720), (current, width, height)

        code, err = finish(publisher)
        assert code == 0, err
    finally:
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate()

    # Complete: EXT-X-ENDLIST now, not after the 30 s reconnect window.
    started = time.monotonic()
    done = api.signal_live_stream_complete(ls.id)
    assert done is not None and done.data == {}
    onair.wait_for_endlist(stream, timeout=5)
    assert time.monotonic() - started < 5
    decoder.join(timeout=120)
    assert not decoder.is_alive(), "ffmpeg did not finish decoding the HTTPS playlist"
    assert decode["out"] == ""

    # Deleting the stream ends its playback.
    assert api.delete_live_stream(ls.id) is None
    assert requests.get(url, verify=str(onair.certificate), timeout=10).status_code == 404


def test_disable_drops_the_publisher_and_refuses_new_ones_until_enabled(onair):
    api, _ = sdk(onair)
    clip = make_clip("av", CLIP_SECONDS)
    ls = api.create_live_stream(mux_python.CreateLiveStreamRequest(playback_policies=[PUBLIC],
                                                                   reconnect_window=30)).data
    stream = {"id": ls.id, "stream_key": ls.stream_key}
    publisher = onair.publish(clip, stream)
    sdk_wait_status(api, ls.id, "active")
    time.sleep(1)

    started = time.monotonic()
    assert api.disable_live_stream(ls.id).data == {}
    code, err = finish(publisher, timeout=30)
    assert time.monotonic() - started < 5, "the publisher was not dropped at once on disable"
    assert code != 0, "ffmpeg pushed its whole clip into a disabled stream"
    assert api.get_live_stream(ls.id).data.status == "disabled"
    onair.wait_for_endlist(stream, timeout=5)

    started = time.monotonic()
    code, err = finish(onair.publish(make_clip("av", 6), stream), timeout=30)
    assert code != 0, "a disabled stream accepted a publisher"
    assert time.monotonic() - started < 10, "the refused publisher was left hanging"
    assert api.get_live_stream(ls.id).data.status == "disabled"

    assert api.enable_live_stream(ls.id).data == {}
    assert api.get_live_stream(ls.id).data.status == "idle"
    publisher = onair.publish(make_clip("av", 6), stream)
    try:
        sdk_wait_status(api, ls.id, "active")
    finally:
        code, err = finish(publisher)
    assert code == 0, err


def test_sdk_maps_errors_to_its_exceptions(onair):
    api, playback = sdk(onair)
    with pytest.raises(NotFoundException) as e:
        api.get_live_stream("doesnotexist")
    assert e.value.status == 404
    reader, _ = sdk(onair, onair.read_token)
    assert reader.list_live_streams().data == []
    with pytest.raises(mux_python.rest.ForbiddenException):
        reader.create_live_stream(mux_python.CreateLiveStreamRequest())
    stranger, _ = sdk(onair, ("e2e-write", "not-the-secret"))
    with pytest.raises(mux_python.rest.UnauthorizedException):
        stranger.list_live_streams()
    assert api.list_live_streams().data == []
