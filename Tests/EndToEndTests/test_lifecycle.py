"""The broadcast lifecycle as a client sees it: `active` means playable, the CLI acts on a live
publisher like the API, and no stream stays active without a publisher outside its reconnect window."""
import json
import subprocess
import time

import requests

import rtmp_client
from api_helpers import API, call, data, session
from conftest import finish, make_clip


def test_active_means_the_playback_url_answers_200(onair):
    clip = make_clip("av", 20)
    s = session(onair)
    stream = data(call(s, onair, "POST", API, json={"playback_policies": ["public"], "reconnect_window": 2}), 201)
    pid = stream["playback_ids"][0]["id"]
    publisher = onair.publish(clip, stream)
    try:
        seen = []
        deadline = time.monotonic() + 30
        while True:
            status = data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)["status"]
            if status == "active":
                break
            seen.append(status)
            assert time.monotonic() < deadline, f"never active; statuses seen: {set(seen)}"
            time.sleep(0.05)
        # The moment the API says active, the player's first two requests work: no 412 window.
        for base in (onair.base_url, onair.plain_url):
            multivariant = requests.get(f"{base}/{pid}.m3u8", verify=str(onair.certificate), timeout=5)
            assert multivariant.status_code == 200, multivariant.text
            media = requests.get(f"{base}/{pid}/index.m3u8", verify=str(onair.certificate), timeout=5)
            assert media.status_code == 200, media.text
            assert media.text.count("#EXTINF") >= 3, media.text
        # Before that it was idle (Mux: `recording` does not change the status).
        assert seen and set(seen) == {"idle"}, seen
    finally:
        publisher.kill()
        publisher.wait()


def wait_exit(process, timeout=10):
    """The publisher's exit code once the server dropped it."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the server did not disconnect the publisher")
    return process.returncode


def wait_publishing(onair, stream, publisher, timeout=45):
    """Until the stream's first segment is on disk. On a loaded CI machine (four test workers on two cores)
    that can take several target durations; a publisher that gave up fails at once, with its reason."""
    deadline = time.monotonic() + timeout
    directory = onair.hls_dir / stream["id"]
    while not directory.exists() or not any(directory.glob("*.ts")):
        if publisher.poll() is not None:
            raise AssertionError(f"the publisher exited ({publisher.returncode}): {publisher.stderr.read()}\n"
                                 f"{onair.log_text()[-4000:]}")
        assert time.monotonic() < deadline, f"no segment was written in {timeout} s\n{onair.log_text()[-4000:]}"
        time.sleep(0.1)


def test_cli_delete_disable_and_reset_key_act_on_a_live_publisher(onair):
    clip = make_clip("av", 60)
    s = session(onair)
    disabled, reset, deleted = (onair.create_stream(reconnect_window=30) for _ in range(3))
    publishers = {id(stream): onair.publish(clip, stream) for stream in (disabled, reset, deleted)}
    try:
        for stream in (disabled, reset, deleted):
            wait_publishing(onair, stream, publishers[id(stream)])

        onair.cli("streams", "disable", disabled["id"])
        assert wait_exit(publishers[id(disabled)]) != 0
        assert data(call(s, onair, "GET", f"{API}/{disabled['id']}"), 200)["status"] == "disabled"
        assert "#EXT-X-ENDLIST" in onair.playlist_path(disabled).read_text()
        code, _ = finish(onair.publish(clip, disabled), timeout=20)
        assert code != 0, "a disabled stream accepted a publisher"

        renewed = json.loads(onair.cli("streams", "reset-key", reset["id"], "--json"))
        assert renewed["stream_key"] != reset["stream_key"]
        assert wait_exit(publishers[id(reset)]) != 0
        code, _ = finish(onair.publish(clip, reset), timeout=20)
        assert code != 0, "the old stream key still works"
        # The encoder, given the new key, continues the broadcast: the stream is not left stuck.
        code, err = finish(onair.publish(make_clip("av", 6), renewed), timeout=60)
        assert code == 0, f"the new stream key was refused: {err}"
        assert data(call(s, onair, "GET", f"{API}/{reset['id']}"), 200)["status"] == "active"

        onair.cli("streams", "delete", deleted["id"])
        assert wait_exit(publishers[id(deleted)]) != 0
        assert call(s, onair, "GET", f"{API}/{deleted['id']}").status_code == 404
        deadline = time.monotonic() + 5
        while (onair.hls_dir / deleted["id"]).exists():
            assert time.monotonic() < deadline, "the deleted stream's HLS files stayed"
            time.sleep(0.1)
        log = onair.log_text()
        for kind in ("disabled", "stream_key_reset", "deleted"):
            assert f"change={kind}" in log.replace('"', ""), f"the server did not log the CLI's {kind}"
    finally:
        for process in publishers.values():
            process.kill()
            process.wait()


def test_cli_complete_ends_the_playlist_at_once(onair):
    clip = make_clip("av", 60)
    stream = onair.create_stream(reconnect_window=60)
    publisher = onair.publish(clip, stream)
    try:
        wait_publishing(onair, stream, publisher)
        onair.cli("streams", "complete", stream["id"])
        playlist = onair.wait_for_endlist(stream, timeout=5)
        assert playlist.segments
        assert onair.get_stream(stream["id"])["status"] == "idle"
        assert publisher.poll() is None, "complete dropped the encoder at once (Mux waits 60 s)"
    finally:
        publisher.kill()
        publisher.wait()


def test_a_publisher_that_dies_right_after_its_first_frames_leaves_no_active_stream(onair):
    clip = make_clip("av", 12)
    tags = rtmp_client.read_flv(clip)
    s = session(onair)
    stream = data(call(s, onair, "POST", API, json={"playback_policies": ["public"], "reconnect_window": 1}), 201)
    for frames in (3, 200):  # dies before any segment, then after the stream went active
        sock = rtmp_client.publish(onair.rtmp_port, stream["stream_key"])
        rtmp_client.push_tags(sock, tags[:frames] if frames == 3 else tags)
        if frames == 200:
            deadline = time.monotonic() + 20
            while data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)["status"] != "active":
                assert time.monotonic() < deadline, "the full push never made the stream active"
                time.sleep(0.1)
        sock.close()
        time.sleep(3)  # the 1 s reconnect window, and some
        status = data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)
        assert status["status"] == "idle", f"after {frames} frames: {status['status']} with nobody publishing"
        assert "active_ingest_protocol" not in status

