"""Faults (issue 6): kill -9 during ingest, a full tmpfs, a full database disk, a publisher that goes
silent. onair keeps working, loses nothing it had committed, and says what happened."""
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import m3u8
import requests
import pytest

import rtmp_client
from api_helpers import API, call, data, session, wait_segments, wait_status
from conftest import Onair, decode_errors, finish, make_clip


@pytest.fixture
def root():
    path = Path(tempfile.mkdtemp(prefix="onair-e2e-faults-"))
    yield path
    for mount in (path / "hls", path / "db"):
        if os.path.ismount(mount):
            subprocess.run(["umount", "-l", str(mount)], check=False)
    shutil.rmtree(path, ignore_errors=True)


def mount_tmpfs(path, size):
    """A small tmpfs of its own (the tests run as root, as CI does)."""
    path.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, f"cannot mount a tmpfs at {path} (these tests need root): {out.stderr}"


def integrity(database):
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def segment_numbers(playlist):
    return [int(segment.uri.rsplit("-", 1)[1][:-3]) for segment in playlist.segments]


def test_kill_9_during_ingest_then_restart_continues_the_broadcast(root):
    clip = make_clip("av", 60, size="640x360")
    server = Onair(root).start()
    streams = [server.create_stream() for _ in range(3)]
    live = streams[0]
    publisher = server.publish(clip, live)
    wait_segments(server.base_url, live["playback_ids"][0]["id"], 4, verify=str(server.certificate))

    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    finish(publisher, timeout=30)  # the encoder sees its connection reset
    before = m3u8.load(str(server.playlist_path(live)))
    assert not before.is_endlist and len(before.segments) >= 4

    database = root / "onair.sqlite"
    assert integrity(database) == "ok"
    server.start()
    for stream in streams:
        kept = server.get_stream(stream["id"])
        assert (kept["stream_key"], kept["playback_ids"]) == (stream["stream_key"], stream["playback_ids"]), "a key was lost"
        assert kept["status"] == "idle", "no publisher is connected after a restart"

    # The encoder reconnects with the same key: the playlist goes on after a discontinuity.
    again = server.publish(clip, live, extra=["-t", "12"])
    s = session(server)
    wait_status(server, live["id"], "active", s=s)
    code, err = finish(again)
    assert code == 0, err
    after = m3u8.load(str(server.playlist_path(live)))
    continued = [seg for seg in after.segments if seg.uri in {b.uri for b in before.segments}]
    assert continued, "the segments from before the crash left the playlist"
    numbers = segment_numbers(after)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), f"sequence numbers jump: {numbers}"
    first_new = len(continued)
    assert after.segments[first_new].discontinuity, "no EXT-X-DISCONTINUITY where the new process took over"
    assert sum(seg.discontinuity for seg in after.segments) == 1
    assert after.media_sequence == before.media_sequence
    assert decode_errors(server.playlist_path(live)) == ""
    assert "continuing an interrupted broadcast" in server.log_text()
    server.stop()
    assert integrity(database) == "ok"


def test_a_full_tmpfs_drops_the_oldest_segments_and_ingest_goes_on(root):
    mount_tmpfs(root / "hls", "5m")  # room for about six 640x360 segments
    clip = make_clip("av", 60, size="640x360")
    server = Onair(root, playlist_length=10, delete_grace_segments=2).start()
    live = server.create_stream(reconnect_window=0)
    code, err = finish(server.publish(clip, live, realtime=False))
    assert code == 0, f"ingest stopped when the disk filled up: {err}"
    playlist = server.wait_for_endlist(live)
    numbers = segment_numbers(playlist)
    assert numbers[-1] >= 25, f"the newest segments are missing: {numbers}"
    assert len(playlist.segments) < 10, "nothing was dropped: the tmpfs was not full"
    for segment in playlist.segments:
        assert (server.playlist_path(live).parent / segment.uri).exists(), f"{segment.uri} is listed but gone"
    assert decode_errors(server.playlist_path(live)) == ""
    assert "disk full: dropped old segments" in server.log_text()
    metrics = requests.get(server.metrics_url, timeout=10).text
    dropped = [line for line in metrics.splitlines() if line.startswith("onair_segments_dropped_total") and 'reason="disk_full"' in line]
    assert dropped and float(dropped[0].rsplit(" ", 1)[1]) > 0, metrics
    server.stop()


def test_a_full_database_disk_answers_503_and_corrupts_nothing(root):
    mount_tmpfs(root / "db", "2m")
    server = Onair(root)
    server.config.write_text(server.config.read_text().replace(str(root / "onair.sqlite"), str(root / "db/onair.sqlite")))
    server.start()
    s = session(server)
    kept = [data(call(s, server, "POST", API, json={"playback_policy": ["public"]}), 201) for _ in range(3)]
    filler = root / "db/filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)  # until ENOSPC
    failures = []
    for _ in range(40):  # SQLite may find room in free pages for a while; it must fail cleanly when it does not
        response = call(s, server, "POST", API, json={"playback_policy": ["public"], "passthrough": "x" * 200})
        if response.status_code != 201:
            failures.append(response)
            break
    assert failures, "the database never ran out of space"
    response = failures[0]
    assert response.status_code == 503, response.text
    body = response.json()["error"]
    assert body["type"] == "service_unavailable" and "disk is full" in body["messages"][0], body
    listed = data(call(s, server, "GET", API, params={"limit": 100}), 200)
    assert {k["id"] for k in kept} <= {x["id"] for x in listed}, "streams created before the disk filled are gone"
    filler.unlink()
    created = data(call(s, server, "POST", API, json={"playback_policy": ["public"]}), 201)
    assert data(call(s, server, "GET", f"{API}/{created['id']}"), 200)["stream_key"] == created["stream_key"]
    server.stop()
    assert integrity(root / "db/onair.sqlite") == "ok"


def test_a_publisher_that_goes_silent_is_timed_out_and_its_key_works_again(root):
    server = Onair(root, rtmp={"idle_timeout": 2, "takeover_after": 600}).start()
    live = server.create_stream(reconnect_window=0)
    silent = rtmp_client.publish(server.rtmp_port, live["stream_key"])
    silent.settimeout(10)
    started = time.monotonic()
    try:
        while silent.recv(65536):
            pass
    except (ConnectionError, socket.timeout):
        pass
    assert time.monotonic() - started < 8, "the silent publisher was not timed out"
    silent.close()
    # takeover_after is 600 s: only the timeout can have freed the key.
    again = rtmp_client.publish(server.rtmp_port, live["stream_key"])
    again.close()
    server.stop()
