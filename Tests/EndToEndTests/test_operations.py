"""systemd integration (sd_notify protocol through a stand-in NOTIFY_SOCKET), SIGHUP reload,
Prometheus metrics and what the logs must never contain. Runs the debug binary; the installed
package is covered by Tests/PackageTests."""
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from api_helpers import session
from conftest import ONAIR, Onair, finish, make_clip, require


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self):
        self.path = tempfile.mktemp(prefix="onair-notify-")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # (monotonic time, text)
        self.cursor = 0  # wait_for looks at messages from here on

    def read(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                self.messages.append((time.monotonic(), self.sock.recv(4096).decode()))
            except socket.timeout:
                pass

    def wait_for(self, field, timeout=10):
        """Waits for the next datagram (after the last one waited for) containing the line `field`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for index in range(self.cursor, len(self.messages)):
                text = self.messages[index][1]
                if field in text.split("\n"):
                    self.cursor = index + 1
                    return text
            self.read(0.05)
        raise AssertionError(f"no {field} within {timeout} s; got {[m for _, m in self.messages][-10:]}")

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def start_under_systemd(server, notify, watchdog_usec=1_000_000, **env):
    """Starts `onair serve` as systemd would: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (its own pid)."""
    environment = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC=str(watchdog_usec), **env)
    server.log = open(server.log_path, "wb")
    server.process = subprocess.Popen(
        ["sh", "-c", f'export WATCHDOG_PID=$$; exec "{ONAIR}" serve --config "{server.config}"'],
        env=environment, stdout=server.log, stderr=subprocess.STDOUT)
    return time.monotonic()


def test_notify_protocol_reload_and_graceful_stop():
    require(ONAIR)
    server = Onair(Path(tempfile.mkdtemp(prefix="onair-systemd-")))
    notify = NotifySocket()
    started = start_under_systemd(server, notify)
    try:
        ready = notify.wait_for("READY=1")
        assert any(line.startswith("STATUS=") for line in ready.split("\n")), ready
        print(f"exec -> READY=1: {notify.messages[0][0] - started:.3f} s (debug build)")
        # READY=1 means every listener accepts connections.
        for port in (server.rtmp_port, server.https_port, server.http_port):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        # Watchdog pings at about half of WATCHDOG_USEC (1 s), with STATUS refreshed.
        notify.read(2.6)
        pings = [t for t, text in notify.messages if "WATCHDOG=1" in text.split("\n")]
        assert len(pings) >= 4, pings
        assert max(b - a for a, b in zip(pings, pings[1:])) < 0.9
        assert sum("STATUS=" in text for _, text in notify.messages) >= 4

        # SIGHUP with a new token: RELOADING=1 + MONOTONIC_USEC, then READY=1, and the token works.
        old_token = server.write_token
        new_secret = "reloaded-" + os.urandom(12).hex()
        text = server.config.read_text().replace(old_token[1], new_secret)
        server.config.write_text(text)
        server.process.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING=1")
        assert any(line.startswith("MONOTONIC_USEC=") and int(line.split("=")[1]) > 0 for line in reloading.split("\n"))
        notify.wait_for("READY=1")
        assert session(server, (old_token[0], new_secret)).get(server.base_url + "/video/v1/live-streams", timeout=5).status_code == 200
        assert session(server, old_token).get(server.base_url + "/video/v1/live-streams", timeout=5).status_code == 401

        # A reload with a bad file is logged and the running configuration stays.
        server.config.write_text(text + "bogus_key: 1\n")
        server.process.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1")
        notify.wait_for("READY=1")
        assert "reload failed" in server.log_text() and "bogus_key" in server.log_text()
        assert session(server, (old_token[0], new_secret)).get(server.base_url + "/video/v1/live-streams", timeout=5).status_code == 200
        assert server.process.poll() is None

        # SIGTERM: STOPPING=1, then exit 0.
        server.process.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        assert server.process.wait(timeout=15) == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
        notify.close()


def test_watchdog_pings_stop_when_an_event_loop_blocks():
    require(ONAIR)
    server = Onair(Path(tempfile.mkdtemp(prefix="onair-watchdog-")))
    notify = NotifySocket()
    start_under_systemd(server, notify, ONAIR_FAULT_BLOCK_EVENT_LOOP_AFTER="2")
    try:
        notify.wait_for("READY=1")
        notify.read(1.5)
        assert any("WATCHDOG=1" in text for _, text in notify.messages), "no ping before the fault"
        # The loop blocks at 2 s; the check in flight may still pass once. Keep reading meanwhile: a
        # datagram left queued in the socket would be stamped with the time it is read, not sent.
        notify.read(1.5)
        blocked_at = time.monotonic()
        notify.read(3)
        late = [t for t, text in notify.messages if t > blocked_at and "WATCHDOG=1" in text.split("\n")]
        assert late == [], f"watchdog kept pinging with a blocked event loop: {len(late)} pings"
        assert any("STATUS=" in text for t, text in notify.messages if t > blocked_at), "the supervisor itself stopped"
        assert server.process.poll() is None
        assert "health check failed" in server.log_text()
    finally:
        server.process.kill()
        server.process.wait()
        notify.close()


def test_metrics_pass_promtool_and_logs_hold_no_secrets(onair):
    promtool = require("promtool")
    stream = onair.create_stream(reconnect_window=1)
    code, err = finish(onair.publish(make_clip("av", 6), stream, realtime=False))
    assert code == 0, err
    onair.wait_for_endlist(stream)
    s = session(onair)
    s.get(onair.base_url + "/video/v1/live-streams", timeout=5)
    session(onair, ("nobody", "wrong-secret-123")).get(onair.base_url + "/video/v1/live-streams", timeout=5)
    s.post(onair.base_url + f"/video/v1/live-streams/{stream['id']}/reset-stream-key", timeout=5)

    response = requests.get(onair.metrics_url, timeout=5)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    labelled = f'live_stream_id="{stream["id"]}"'
    for name in ["onair_ingest_bytes_total", "onair_ingest_frames_total", "onair_segments_written_total",
                 "onair_segments_dropped_total"]:
        assert any(line.startswith(name) and labelled in line for line in text.splitlines()), name
    for name in ["onair_segment_publish_delay_seconds_bucket", "onair_active_publishers", "onair_hls_bytes",
                 "onair_http_requests_total"]:
        assert any(line.startswith(name) for line in text.splitlines()), name
    written = [line for line in text.splitlines() if line.startswith("onair_segments_written_total") and labelled in line]
    assert float(written[0].split()[-1]) == 3
    # Bounded labels: nothing per connection or address.
    assert "127.0.0.1" not in text and "remote" not in text

    log = onair.log_text()
    for secret in [stream["stream_key"], onair.write_token[1], onair.read_token[1], "wrong-secret-123"]:
        assert secret not in log, "a secret reached the log"
    assert all(line[:1] == "<" and line[1:2].isdigit() and line[2:3] == ">" for line in log.splitlines() if line), \
        "every log line carries a <N> priority prefix"


def test_a_notify_socket_nobody_reads_cannot_hang_the_service():
    """sd_notify blocks on a full socket queue; onair must still stop on SIGTERM (found by the bench)."""
    require(ONAIR)
    server = Onair(Path(tempfile.mkdtemp(prefix="onair-deaf-manager-")))
    notify = NotifySocket()  # bound, never read: its queue fills after a few datagrams
    start_under_systemd(server, notify, watchdog_usec=100_000)
    try:
        time.sleep(4)  # well over the queue's worth of WATCHDOG=1/STATUS= datagrams
        assert server.process.poll() is None
        with socket.create_connection(("127.0.0.1", server.rtmp_port), timeout=2):
            pass
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
        notify.close()
