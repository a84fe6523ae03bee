"""Publish authorisation, reconnects inside the window, and hostile connections."""
import os
import socket
import struct
import time

import m3u8

import rtmp_client

from conftest import decode_errors, finish, make_clip


def test_wrong_key_is_refused_and_the_connection_closed(onair):
    clip = make_clip("av", 12)
    onair.create_stream()
    bogus = {"id": "none", "stream_key": "00000000-0000-0000-0000-000000000000"}
    started = time.monotonic()
    code, err = finish(onair.publish(clip, bogus), timeout=30)
    assert code != 0, "ffmpeg published with a key that does not exist"
    assert time.monotonic() - started < 10, "the refused publisher was left hanging"
    assert not any(onair.hls_dir.glob("*/index.m3u8")) if onair.hls_dir.exists() else True
    assert "publish refused" in onair.log_text()
    assert bogus["stream_key"] not in onair.log_text(), "a stream key was logged"


def test_reconnect_inside_the_window_continues_the_playlist_with_a_discontinuity(onair):
    clip = make_clip("av", 6)
    stream = onair.create_stream(reconnect_window=4)
    code, err = finish(onair.publish(clip, stream))
    assert code == 0, err
    time.sleep(1)
    assert onair.get_stream(stream["id"])["status"] == "active", "status must stay active inside the reconnect window"
    code, err = finish(onair.publish(clip, stream))
    assert code == 0, err
    playlist = onair.wait_for_endlist(stream)
    text = onair.playlist_path(stream).read_text()
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1, text
    sequences = [int(s.uri.rsplit("-", 1)[1].split(".")[0]) for s in playlist.segments]
    assert sequences == list(range(len(sequences))), sequences
    assert len(playlist.segments) >= 6
    total = sum(s.duration for s in playlist.segments)
    assert abs(total - 12) <= 0.6, total
    assert decode_errors(onair.playlist_path(stream)) == ""


def wait_closed(sock, timeout=10):
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_garbage_ends_that_connection_only(onair):
    clip = make_clip("av", 12)
    stream = onair.create_stream(reconnect_window=1)
    publisher = onair.publish(clip, stream)
    path = onair.playlist_path(stream)
    deadline = time.monotonic() + 15
    while not (path.exists() and len(m3u8.load(str(path)).segments) >= 2):
        assert time.monotonic() < deadline, "the good publisher's playlist did not start"
        time.sleep(0.1)
    before = len(m3u8.load(str(path)).segments)

    # 1. Not RTMP at all.
    with socket.create_connection(("127.0.0.1", onair.rtmp_port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(4000))
        assert wait_closed(s), "a non-RTMP connection was kept open"
    # 2. A valid handshake, then a chunk announcing a 16 MiB message (over the 8 MiB limit).
    with socket.create_connection(("127.0.0.1", onair.rtmp_port)) as s:
        rtmp_client.handshake(s)
        s.sendall(bytes([0x03]) + b"\x00\x00\x00" + (0xFFFFFF).to_bytes(3, "big") + b"\x14" + struct.pack("<I", 0))
        assert wait_closed(s), "an oversized message did not end the connection"
    # 3. A valid handshake, then random bytes.
    with socket.create_connection(("127.0.0.1", onair.rtmp_port)) as s:
        rtmp_client.handshake(s)
        try:
            s.sendall(os.urandom(64 * 1024))
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert wait_closed(s), "random chunk data did not end the connection"

    code, err = finish(publisher)
    assert code == 0, f"the good publisher was disturbed: {err}"
    playlist = onair.wait_for_endlist(stream)
    assert len(playlist.segments) > before
    assert "#EXT-X-DISCONTINUITY" not in path.read_text()
    assert decode_errors(path) == ""


def test_busy_key_is_refused_but_a_silent_session_is_taken_over(onair):
    clip = make_clip("av", 6)
    stream = onair.create_stream(reconnect_window=1)
    # A publisher whose TCP connection stays open but that sends nothing (a half-open encoder).
    stale = rtmp_client.publish(onair.rtmp_port, stream["stream_key"])
    # While it has just spoken, a second publisher is refused and closed quickly.
    started = time.monotonic()
    code, err = finish(onair.publish(clip, stream), timeout=30)
    assert code != 0, "a second publisher was accepted on a busy key"
    assert time.monotonic() - started < 5
    # Once it has been silent for rtmp.takeover_after (5 s), a new publisher takes over.
    time.sleep(5.5)
    code, err = finish(onair.publish(clip, stream))
    assert code == 0, f"the encoder was locked out by a silent session: {err}"
    assert wait_closed(stale), "the silent session was not disconnected"
    playlist = onair.wait_for_endlist(stream)
    assert abs(sum(s.duration for s in playlist.segments) - 6) <= 0.3
    assert decode_errors(onair.playlist_path(stream)) == ""
