"""Simulcast targets (issue 16): ffmpeg publishes to onair, which pushes the broadcast on over RTMP(S) to
Debian's nginx-rtmp (a real server no one here wrote) and to a second onair; both make HLS that ffmpeg
decodes with the right duration. Targets that are down, die or stall harm nothing else; mux-python drives
the endpoints; the status events arrive as signed webhooks.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import m3u8
import mux_python
import pytest

from api_helpers import API, assert_error, call, data, session, wait_status
from conftest import ONAIR, Onair, decode_errors, finish, free_port, make_clip, require, tls_certificate

NGINX_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
TARGET_EVENTS = "video.live_stream.simulcast_target."


class Nginx:
    """nginx + libnginx-mod-rtmp: `live on`, HLS into its own directory, the whole broadcast kept."""

    def __init__(self, root: Path, port=None):
        require("nginx")
        assert Path(NGINX_MODULE).exists(), "libnginx-mod-rtmp is required (make test-deps installs it)"
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.hls = root / "hls"
        self.hls.mkdir(exist_ok=True)
        user = "user root root;" if os.geteuid() == 0 else ""
        (root / "nginx.conf").write_text(f"""load_module {NGINX_MODULE};
daemon off;
master_process on;
worker_processes 1;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.port};
        chunk_size 4096;
        application app {{
            live on;
            hls on;
            hls_path {self.hls};
            hls_nested on;
            hls_fragment 2s;
            hls_playlist_length 600s;
            hls_cleanup off;
        }}
    }}
}}
""")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(["nginx", "-p", str(self.root), "-c", str(self.root / "nginx.conf"), "-e",
                                         str(self.root / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nginx did not listen on {self.port}: {self.log()}")

    def workers(self):
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill(self):
        """kill -9 of the master and its worker: the target dies mid-stream."""
        for pid in self.workers() + [self.process.pid]:
            with_signal(pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            for pid in self.workers():
                with_signal(pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log(self):
        path = self.root / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def playlist(self, key):
        return self.hls / key / "index.m3u8"


def with_signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


@pytest.fixture
def world(receivers):
    """onair (with a webhook receiver and the test's simulcast settings), and makers of targets."""
    require(ONAIR)
    made = []

    def onair(**simulcast):
        receiver = receivers(secrets.token_hex(16))
        root = Path(tempfile.mkdtemp(prefix="onair-e2e-simulcast-"))
        settings = {"max_retry": 2, **simulcast}
        extra = ["simulcast:"] + [f"  {k}: {v}" for k, v in settings.items()] + [
            "webhooks:", f"  - url: {receiver.url}", f"    signing_secret: {receiver.secret}"]
        server = Onair(root, extra=extra)
        server.receiver = receiver
        made.append(server)
        return server.start()

    def nginx(port=None):
        server = Nginx(Path(tempfile.mkdtemp(prefix="onair-e2e-nginx-")), port)
        made.append(server)
        return server

    yield onair, nginx
    for server in made:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def create_stream(onair, targets=(), **fields):
    body = {"playback_policies": ["public"], "simulcast_targets": list(targets), "reconnect_window": 0, **fields}
    return data(call(session(onair), onair, "POST", API, json=body), 201)


def get_stream(onair, stream_id):
    return data(call(session(onair), onair, "GET", f"{API}/{stream_id}"), 200)


def target_statuses(onair, stream_id):
    return {t["id"]: t["status"] for t in get_stream(onair, stream_id).get("simulcast_targets", [])}


def wait_target(onair, stream_id, target_id, status, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        targets = {t["id"]: t for t in get_stream(onair, stream_id).get("simulcast_targets", [])}
        if targets[target_id]["status"] == status:
            return targets[target_id]
        assert time.monotonic() < deadline, f"target {target_id} is {targets[target_id]} after {timeout} s, not {status}:\n" \
            + onair.log_text()[-4000:]
        time.sleep(0.2)


def target_events(onair, target_id, timeout=0, until=None):
    """The simulcast events of one target the receiver got, in order (waits until `until` is among them)."""
    deadline = time.monotonic() + timeout
    while True:
        events = [e for e in onair.receiver.events() if e["type"].startswith(TARGET_EVENTS) and e["object"]["id"] == target_id]
        if until is None or any(e["type"] == TARGET_EVENTS + until for e in events) or time.monotonic() >= deadline:
            return events
        time.sleep(0.2)


def hls_duration(playlist_path):
    playlist = m3u8.load(str(playlist_path))
    return sum(segment.duration for segment in playlist.segments)


def decoded_duration(playlist_path):
    """Seconds of video ffmpeg decodes from a playlist (first to last frame, plus one frame)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
                          "-of", "json", str(playlist_path)], capture_output=True, text=True, timeout=120)
    times = [float(f["pts_time"]) for f in json.loads(out.stdout or "{}").get("frames", []) if "pts_time" in f]
    return (max(times) - min(times) + 1 / 30) if times else 0.0


def publish_looping(onair, stream, clip):
    """ffmpeg pushing `clip` over and over in real time, until killed."""
    return subprocess.Popen(["ffmpeg", "-v", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i", str(clip), "-c", "copy",
                             "-f", "flv", onair.url(stream["stream_key"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def nginx_finished(nginx, key, timeout=20):
    """nginx-rtmp writes no ENDLIST: its playlist is final once it stops changing after the publish ended.
    Returns a copy with ENDLIST beside it (ffmpeg would poll the live one forever)."""
    path = nginx.playlist(key)
    wait_file(path, "#EXTINF", timeout=timeout)
    last, deadline = None, time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text()
        if text == last:
            final = path.with_name("final.m3u8")
            final.write_text(text.rstrip("\n") + "\n#EXT-X-ENDLIST\n")
            return final
        last = text
        time.sleep(1.5)
    raise AssertionError(f"{path} still changes after {timeout} s")


def wait_file(path, marker=None, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and (marker is None or marker in path.read_text()):
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} {'has no ' + marker if marker else 'missing'} after {timeout} s")


def test_one_publish_reaches_playback_and_two_real_targets(world):
    make_onair, make_nginx = world
    onair, second = make_onair(), make_onair()
    nginx = make_nginx().start()
    remote = second.create_stream()
    nginx_key = "nginx-" + secrets.token_hex(8)
    clip = make_clip("simulcast", 12)

    # mux-python creates the stream and its targets, and reads them back.
    cfg = mux_python.Configuration(host=onair.base_url)
    cfg.username, cfg.password = onair.write_token
    cfg.ssl_ca_cert = str(onair.certificate)
    api = mux_python.LiveStreamsApi(mux_python.ApiClient(cfg))
    stream = api.create_live_stream(mux_python.CreateLiveStreamRequest(
        playback_policies=[mux_python.PlaybackPolicy.PUBLIC], reconnect_window=0)).data
    assert stream.simulcast_targets is None
    to_nginx = api.create_live_stream_simulcast_target(stream.id, mux_python.CreateSimulcastTargetRequest(
        url=f"rtmp://127.0.0.1:{nginx.port}/app", stream_key=nginx_key, passthrough="nginx")).data
    to_onair = api.create_live_stream_simulcast_target(stream.id, mux_python.CreateSimulcastTargetRequest(
        url=f"rtmp://127.0.0.1:{second.rtmp_port}/app/{remote['stream_key']}")).data
    assert (to_nginx.status, to_nginx.stream_key, to_nginx.passthrough) == ("idle", nginx_key, "nginx")
    assert to_onair.stream_key is None
    got = api.get_live_stream_simulcast_target(stream.id, to_nginx.id).data
    assert (got.id, got.url, got.status) == (to_nginx.id, f"rtmp://127.0.0.1:{nginx.port}/app", "idle")
    listed = api.get_live_stream(stream.id).data.simulcast_targets
    assert [t.id for t in listed] == [to_nginx.id, to_onair.id]

    publisher = onair.publish(clip, {"stream_key": stream.stream_key})
    for target in (to_nginx, to_onair):
        wait_target(onair, stream.id, target.id, "broadcasting", timeout=20)
    assert api.get_live_stream_simulcast_target(stream.id, to_onair.id).data.status == "broadcasting"
    code, err = finish(publisher)
    assert code == 0, err

    # The broadcast ended everywhere: onair's own playlist, the second onair's (after its reconnect
    # window: complete it), and nginx's.
    onair.wait_for_endlist({"id": stream.id})
    wait_status(second, remote["id"], "active", timeout=5)
    data(call(session(second), second, "PUT", f"{API}/{remote['id']}/complete"), 200)
    second.wait_for_endlist(remote)
    for playlist in (onair.playlist_path({"id": stream.id}), second.playlist_path(remote), nginx_finished(nginx, nginx_key)):
        assert decode_errors(playlist) == "", playlist
        assert 11.0 <= decoded_duration(playlist) <= 12.5, (playlist, decoded_duration(playlist))
        assert 11.0 <= hls_duration(playlist) <= 13.5, (playlist, hls_duration(playlist))

    # Each target went idle -> starting -> broadcasting -> idle, announced as signed webhooks.
    for target in (to_nginx, to_onair):
        wait_target(onair, stream.id, target.id, "idle", timeout=10)
        events = target_events(onair, target.id, timeout=10, until="idle")
        assert [e["type"].removeprefix(TARGET_EVENTS) for e in events] == ["created", "starting", "broadcasting", "idle"], events
        for event in events:
            assert event["object"] == {"type": "simulcast_target", "id": target.id}
            assert event["data"]["live_stream_id"] == stream.id and event["data"]["id"] == target.id
        assert events[2]["data"]["status"] == "broadcasting"
    # The stream keys of targets are secrets: no log line has them.
    log = onair.log_text()
    assert nginx_key not in log and remote["stream_key"] not in log


def test_the_api_keeps_muxs_rules(world):
    make_onair, _ = world
    onair = make_onair()
    s = session(onair)
    plain = create_stream(onair)
    assert "simulcast_targets" not in plain  # as in Mux's examples: absent when there are none
    base = f"{API}/{plain['id']}/simulcast-targets"
    for body, mentions in [({}, "url is required"), ({"url": "http://example.com/app", "stream_key": "k"}, "rtmp://"),
                           ({"url": "srt://example.com:6001?streamid=x"}, "SRT"), ({"url": "rtmp://example.com/app"}, "stream_key"),
                           ({"url": "rtmp:///app", "stream_key": "k"}, "host"), ({"url": 5}, "url must be a string"),
                           ({"url": "rtmp://example.com:99999/app", "stream_key": "k"}, "url"),
                           ({"url": "rtmp://example.com/app", "stream_key": "k", "passthrough": "x" * 256}, "passthrough")]:
        assert_error(call(s, onair, "POST", base, json=body), 400, "invalid_parameters", mentions=mentions)
    assert_error(call(s, onair, "POST", f"{API}/nope/simulcast-targets", json={"url": "rtmp://h/app", "stream_key": "k"}),
                 404, "not_found")
    made = [data(call(s, onair, "POST", base, json={"url": f"rtmp://10.0.0.{n}/live2", "stream_key": f"key{n}"}), 201)
            for n in range(6)]
    assert_error(call(s, onair, "POST", base, json={"url": "rtmp://h/app", "stream_key": "k"}), 400, "invalid_parameters",
                 mentions="at most 6")
    assert [t["id"] for t in get_stream(onair, plain["id"])["simulcast_targets"]] == [t["id"] for t in made]
    assert call(s, onair, "DELETE", f"{base}/{made[0]['id']}").status_code == 204
    assert_error(call(s, onair, "GET", f"{base}/{made[0]['id']}"), 404, "not_found")
    assert_error(call(s, onair, "DELETE", f"{base}/{made[0]['id']}"), 404, "not_found")
    assert data(call(s, onair, "GET", f"{base}/{made[1]['id']}"), 200) == {
        "id": made[1]["id"], "url": "rtmp://10.0.0.1/live2", "stream_key": "key1", "status": "idle"}
    # The read token reads, and may not write.
    assert call(session(onair, "read"), onair, "GET", f"{base}/{made[1]['id']}").status_code == 200
    assert call(session(onair, "read"), onair, "POST", base, json={"url": "rtmp://h/app", "stream_key": "k"}).status_code == 403

    # Targets given at create; a stream whose broadcast is active cannot change them.
    stream = create_stream(onair, [{"url": "rtmp://127.0.0.1:1/app", "stream_key": "a", "passthrough": "p"}], reconnect_window=30)
    assert [(t["url"], t["stream_key"], t["passthrough"], t["status"]) for t in stream["simulcast_targets"]] == [
        ("rtmp://127.0.0.1:1/app", "a", "p", "idle")]
    assert_error(call(s, onair, "POST", API, json={"simulcast_targets": [{"url": "rtmp://h/app"}]}), 400, "invalid_parameters",
                 mentions="simulcast_targets.stream_key")
    publisher = publish_looping(onair, stream, make_clip("simulcast", 12))
    try:
        wait_status(onair, stream["id"], "active", timeout=15)
        target = stream["simulcast_targets"][0]
        errored = wait_target(onair, stream["id"], target["id"], "errored", timeout=15)  # nothing listens on port 1
        assert errored["error_severity"] == "normal"
        assert_error(call(s, onair, "POST", f"{API}/{stream['id']}/simulcast-targets", json={"url": "rtmp://h/app", "stream_key": "k"}),
                     400, "invalid_parameters", mentions="idle")
        assert_error(call(s, onair, "DELETE", f"{API}/{stream['id']}/simulcast-targets/{target['id']}"), 400, "invalid_parameters",
                     mentions="idle")
    finally:
        publisher.kill()
        publisher.wait()
    events = target_events(onair, made[0]["id"], timeout=10, until="deleted")
    assert [e["type"].removeprefix(TARGET_EVENTS) for e in events] == ["created", "deleted"]
    # Deleting the stream deletes its targets, each with its event.
    assert call(s, onair, "DELETE", f"{API}/{plain['id']}").status_code == 204
    for target in made[1:]:
        assert [e["type"].removeprefix(TARGET_EVENTS) for e in target_events(onair, target["id"], timeout=10, until="deleted")] \
            == ["created", "deleted"]
    assert "key1" not in onair.log_text()


def test_a_target_down_at_start_errors_then_broadcasts_when_it_comes_up(world):
    make_onair, make_nginx = world
    onair = make_onair()
    nginx = make_nginx()  # not started yet: its port refuses
    stream = create_stream(onair, [{"url": f"rtmp://127.0.0.1:{nginx.port}/app", "stream_key": "late"}])
    target = stream["simulcast_targets"][0]
    publisher = publish_looping(onair, stream, make_clip("simulcast", 12))
    try:
        errored = wait_target(onair, stream["id"], target["id"], "errored", timeout=15)
        assert errored["error_severity"] == "normal"
        nginx.start()
        wait_target(onair, stream["id"], target["id"], "broadcasting", timeout=15)  # max_retry 2 s
        wait_file(nginx.playlist("late"), "#EXTINF", timeout=20)
    finally:
        publisher.kill()
        publisher.wait()
    wait_target(onair, stream["id"], target["id"], "idle", timeout=15)
    kinds = [e["type"].removeprefix(TARGET_EVENTS) for e in target_events(onair, target["id"], timeout=10, until="idle")]
    assert kinds[:3] == ["created", "starting", "errored"] and kinds[-2:] == ["broadcasting", "idle"], kinds
    assert decode_errors(nginx_finished(nginx, "late")) == ""


def test_a_target_that_stalls_then_dies_harms_nothing_else(world):
    make_onair, make_nginx = world
    onair, second = make_onair(queue_bytes=262144), make_onair()
    nginx = make_nginx().start()
    remote = second.create_stream(reconnect_window=0)
    stream = create_stream(onair, [{"url": f"rtmp://127.0.0.1:{nginx.port}/app", "stream_key": "doomed"},
                                   {"url": f"rtmp://127.0.0.1:{second.rtmp_port}/app", "stream_key": remote["stream_key"]}])
    doomed, healthy = (t["id"] for t in stream["simulcast_targets"])
    publisher = onair.publish(make_clip("simulcast-long", 30), stream)
    try:
        for target in (doomed, healthy):
            wait_target(onair, stream["id"], target, "broadcasting", timeout=20)
        time.sleep(3)
        # Stall: nginx stops reading; onair's queue for it overflows and drops to the next keyframe.
        for pid in nginx.workers():
            os.kill(pid, signal.SIGSTOP)
        deadline = time.monotonic() + 20
        while "simulcast target is behind" not in onair.log_text():
            assert time.monotonic() < deadline, onair.log_text()[-3000:]
            time.sleep(0.2)
        assert target_statuses(onair, stream["id"])[healthy] == "broadcasting"
        # Then it dies.
        nginx.kill()
        wait_target(onair, stream["id"], doomed, "errored", timeout=15)
        assert target_statuses(onair, stream["id"])[healthy] == "broadcasting"
    finally:
        code, err = finish(publisher)
    assert code == 0, err
    onair.wait_for_endlist({"id": stream["id"]})
    second.wait_for_endlist(remote)
    for playlist in (onair.playlist_path({"id": stream["id"]}), second.playlist_path(remote)):
        assert decode_errors(playlist) == "", playlist
        assert 29.0 <= decoded_duration(playlist) <= 30.5, (playlist, decoded_duration(playlist))
    metrics = subprocess.run(["curl", "-s", onair.metrics_url], capture_output=True, text=True, timeout=10).stdout
    overflows = [line for line in metrics.splitlines() if line.startswith("onair_simulcast_overflows_total")]
    assert overflows and float(overflows[0].split()[-1]) >= 1, overflows


def test_a_publisher_reconnecting_in_the_window_keeps_the_targets_connected(world):
    make_onair, _ = world
    onair, second = make_onair(), make_onair()
    remote = second.create_stream(reconnect_window=0)
    stream = create_stream(onair, [{"url": f"rtmp://127.0.0.1:{second.rtmp_port}/app/{remote['stream_key']}"}], reconnect_window=30)
    target = stream["simulcast_targets"][0]
    clip = make_clip("simulcast", 12)
    for attempt in range(2):
        code, err = finish(onair.publish(clip, stream))
        assert code == 0, err
        if attempt == 0:
            time.sleep(3)  # the publisher is gone; the broadcast (and its target) carry on in the window
    # The second onair saw one publish: no new session, no idle between the two (reconnect window 0 there).
    assert target_statuses(onair, stream["id"])[target["id"]] == "broadcasting"
    data(call(session(onair), onair, "PUT", f"{API}/{stream['id']}/complete"), 200)
    wait_target(onair, stream["id"], target["id"], "idle", timeout=20)
    second.wait_for_endlist(remote)
    playlist = second.playlist_path(remote)
    assert decode_errors(playlist) == ""
    assert "#EXT-X-DISCONTINUITY" not in playlist.read_text()
    assert 22.5 <= decoded_duration(playlist) <= 24.5, decoded_duration(playlist)
    remote_events = [e["type"] for e in second.receiver.events() if e["object"]["id"] == remote["id"]]
    assert remote_events.count("video.live_stream.connected") == 1, remote_events
    kinds = [e["type"].removeprefix(TARGET_EVENTS) for e in target_events(onair, target["id"], timeout=10, until="idle")]
    assert kinds == ["created", "starting", "broadcasting", "idle"], kinds


class TLSProxy:
    """Terminates TLS (the e2e certificate, for localhost) and forwards to a plain port: an RTMPS server."""

    def __init__(self, backend_port):
        cert, key = tls_certificate()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.backend = backend_port
        self.handshakes = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.relay, args=(client,), daemon=True).start()

    def relay(self, client):
        try:
            secure = self.context.wrap_socket(client, server_side=True)
            self.handshakes += 1
            backend = socket.create_connection(("127.0.0.1", self.backend))
        except OSError:
            client.close()
            return

        def pump(source, sink):
            try:
                while chunk := source.recv(65536):
                    sink.sendall(chunk)
            except OSError:
                pass
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(backend, secure), daemon=True).start()
        pump(secure, backend)

    def close(self):
        self.listener.close()


def test_rtmps_targets_verify_the_certificate(world):
    make_onair, _ = world
    cert, _ = tls_certificate()
    onair, second = make_onair(ca_file=cert), make_onair()
    untrusting = make_onair()  # the system store only: the test certificate is not in it
    remote = second.create_stream(reconnect_window=0)
    proxy = TLSProxy(second.rtmp_port)
    try:
        url = f"rtmps://localhost:{proxy.port}/app"
        stream = create_stream(onair, [{"url": url, "stream_key": remote["stream_key"]}])
        refused = create_stream(untrusting, [{"url": url, "stream_key": remote["stream_key"]}])
        clip = make_clip("simulcast", 12)
        publishers = [onair.publish(clip, stream), untrusting.publish(clip, refused)]
        wait_target(onair, stream["id"], stream["simulcast_targets"][0]["id"], "broadcasting", timeout=20)
        wait_target(untrusting, refused["id"], refused["simulcast_targets"][0]["id"], "errored", timeout=20)
        for publisher in publishers:
            code, err = finish(publisher)
            assert code == 0, err
        second.wait_for_endlist(remote)
        assert decode_errors(second.playlist_path(remote)) == ""
        assert 11.0 <= decoded_duration(second.playlist_path(remote)) <= 12.5
        assert "certificate" in untrusting.log_text().lower() or "handshake" in untrusting.log_text().lower()
    finally:
        proxy.close()


def test_a_target_refusing_the_stream_key_is_errored_fatal(world):
    make_onair, _ = world
    onair, second = make_onair(), make_onair()
    wrong = "not-a-key-" + secrets.token_hex(8)
    stream = create_stream(onair, [{"url": f"rtmp://127.0.0.1:{second.rtmp_port}/app", "stream_key": wrong}])
    target = stream["simulcast_targets"][0]
    publisher = publish_looping(onair, stream, make_clip("simulcast", 12))
    try:
        errored = wait_target(onair, stream["id"], target["id"], "errored", timeout=20)
        assert errored["error_severity"] == "fatal", errored
        wait_status(onair, stream["id"], "active", timeout=15)  # the broadcast itself is unharmed
    finally:
        publisher.kill()
        publisher.wait()
    log = onair.log_text()
    assert "the target refused: NetStream.Publish.BadName" in log
    assert wrong not in log, "the refused key is not logged, even where the target echoes it"
