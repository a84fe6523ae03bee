"""Limits against hostile clients (issue 6): floods of silent and slow connections, the connection and
publisher caps, header limits. Every flood socket must be closed by the server within its timeout while
a real publisher, a real viewer and the API keep working."""
import json
import selectors
import shutil
import socket
import ssl
import statistics
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

import rtmp_client
from api_helpers import API, call, data, session, wait_playable
from conftest import Onair, finish, make_clip

TIMEOUT = 4  # rtmp.handshake_timeout and http.request_timeout of these servers, seconds
SLACK = 3  # scheduling slack on a loaded 2-core CI machine


@pytest.fixture
def strict():
    root = Path(tempfile.mkdtemp(prefix="onair-e2e-limits-"))
    server = Onair(root, rtmp={"handshake_timeout": TIMEOUT, "idle_timeout": 30},
                   http={"request_timeout": TIMEOUT, "idle_timeout": TIMEOUT}).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


class Flood:
    """Hundreds of sockets that never complete anything: silent ones, and slow ones that send a byte
    every half second (slowloris). Records when the server closed each one."""

    def __init__(self):
        self.sockets = []  # [kind, socket, opened_at, closed_at or None, drips]
        self.selector = selectors.DefaultSelector()
        self.stop = threading.Event()

    def add(self, kind, sock, drip=b""):
        sock.setblocking(False)
        entry = [kind, sock, time.monotonic(), None, drip]
        self.sockets.append(entry)
        self.selector.register(sock, selectors.EVENT_READ, entry)

    def run(self):
        last_drip = 0.0
        while not self.stop.is_set() and any(e[3] is None for e in self.sockets):
            for key, _ in self.selector.select(timeout=0.05):
                entry = key.data
                try:
                    if entry[1].recv(4096) == b"":
                        self.closed(entry)
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
                except OSError:
                    self.closed(entry)
            if time.monotonic() - last_drip >= 0.5:
                last_drip = time.monotonic()
                for entry in self.sockets:
                    if entry[3] is None and entry[4]:
                        try:
                            entry[1].send(entry[4][:1])
                            entry[4] = entry[4][1:] or entry[4]
                        except (ssl.SSLWantWriteError, BlockingIOError):
                            pass
                        except OSError:
                            self.closed(entry)

    def closed(self, entry):
        if entry[3] is None:
            entry[3] = time.monotonic()
            self.selector.unregister(entry[1])

    def lifetimes(self):
        out = {}
        for kind, _, opened, closed, _ in self.sockets:
            out.setdefault(kind, []).append(None if closed is None else closed - opened)
        return out


def tls_client(port):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_a_flood_of_silent_and_slow_connections_starves_nobody(strict):
    clip = make_clip("av", 30, size="640x360")
    live = strict.create_stream()
    publisher = strict.publish(clip, live)
    playback = live["playback_ids"][0]["id"]
    wait_playable(strict.base_url, playback, verify=str(strict.certificate))

    flood = Flood()
    rtmp, https, plain = ("127.0.0.1", strict.rtmp_port), ("127.0.0.1", strict.https_port), ("127.0.0.1", strict.http_port)
    for _ in range(150):
        flood.add("rtmp silent", socket.create_connection(rtmp))
    for _ in range(100):
        flood.add("rtmp slow handshake", socket.create_connection(rtmp), drip=b"\x03" + bytes(1536))
    for _ in range(150):
        flood.add("https silent (no TLS hello)", socket.create_connection(https))
    for _ in range(50):
        flood.add("https slow headers", tls_client(strict.https_port), drip=b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 4096)
    for _ in range(50):
        flood.add("http slow headers", socket.create_connection(plain), drip=b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 4096)
    opened = time.monotonic()
    watcher = threading.Thread(target=flood.run, daemon=True)
    watcher.start()

    # While all 500 are held open: a second encoder publishes, a viewer plays, the API answers.
    second = strict.create_stream()
    sock = rtmp_client.publish(strict.rtmp_port, second["stream_key"])
    sock.close()
    s = session(strict)
    viewer = requests.Session()
    viewer.trust_env = False
    playlist = viewer.get(f"{strict.base_url}/{playback}/index.m3u8", verify=str(strict.certificate), timeout=5)
    assert playlist.status_code == 200, playlist.text
    segment = next(line for line in playlist.text.splitlines() if line.endswith(".ts"))
    assert viewer.get(f"{strict.base_url}/{playback}/{segment}", verify=str(strict.certificate), timeout=5).status_code == 200
    assert viewer.get(f"{strict.plain_url}/{playback}/index.m3u8", timeout=5).status_code == 200
    assert len(data(call(s, strict, "GET", API), 200)) == 2
    served_within = time.monotonic() - opened
    assert served_within < TIMEOUT, "the real clients were only served once the flood had timed out"

    watcher.join(timeout=TIMEOUT + SLACK + 5)
    flood.stop.set()
    lifetimes = flood.lifetimes()
    report = {kind: {"count": len(times), "closed": sum(t is not None for t in times),
                     "median_s": round(statistics.median([t for t in times if t is not None] or [0]), 2),
                     "max_s": round(max([t for t in times if t is not None] or [0]), 2)} for kind, times in lifetimes.items()}
    print("flood:", json.dumps(report))
    for kind, times in lifetimes.items():
        assert all(t is not None for t in times), f"{kind}: {times.count(None)} sockets were never closed: {report}"
        assert max(times) <= TIMEOUT + SLACK, f"{kind}: held longer than the {TIMEOUT} s timeout: {report}"
    code, err = finish(publisher)
    assert code == 0, f"the publisher failed during the flood: {err}"
    assert strict.process.poll() is None


def test_connection_and_publisher_caps():
    root = Path(tempfile.mkdtemp(prefix="onair-e2e-caps-"))
    server = Onair(root, rtmp={"max_connections": 3, "max_publishers": 1}, http={"max_connections": 4}).start()
    try:
        # RTMP: three connections are held; a fourth is closed at once. (First let the server see the
        # end of start()'s own readiness probe, which counts until its close is read.)
        time.sleep(0.3)
        held = [socket.create_connection(("127.0.0.1", server.rtmp_port)) for _ in range(3)]
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", server.rtmp_port), timeout=5)
        assert extra.recv(1) == b"", "a connection over rtmp.max_connections was served"
        extra.close()
        for sock in held:
            sock.close()
        time.sleep(0.3)
        # One publisher at a time: the second stream is refused with NetStream.Publish.Rejected.
        first, second = server.create_stream(), server.create_stream()
        publishing = rtmp_client.publish(server.rtmp_port, first["stream_key"])
        refused = rtmp_client.publish(server.rtmp_port, second["stream_key"], expect=b"NetStream.Publish.Rejected")
        refused.close()
        publishing.close()
        deadline = time.monotonic() + 10
        while "max_publishers reached" not in server.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "max_publishers reached" in server.log_text()

        # HTTP: four kept-alive TLS connections are held; a fifth is closed before its TLS handshake.
        clients = [tls_client(server.https_port) for _ in range(4)]
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"200" in client.recv(4096)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            tls_client(server.https_port).sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for client in clients:
            client.close()
        time.sleep(0.3)
        ok = requests.get(f"{server.base_url}/healthz", verify=str(server.certificate), timeout=5)
        assert ok.status_code == 200, "the HTTP connection count did not go down when clients left"
        assert "http.max_connections reached" in server.log_text()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_oversized_request_headers_end_that_request_only(onair):
    client = tls_client(onair.https_port)
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 * 1024) + b"\r\n\r\n")
    client.settimeout(10)
    answer = b""
    try:
        while chunk := client.recv(65536):
            answer += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    assert not answer.startswith(b"HTTP/1.1 200"), "a 100 KiB header was accepted"
    client.close()
    ok = requests.get(f"{onair.base_url}/healthz", verify=str(onair.certificate), timeout=5)
    assert ok.status_code == 200


def test_a_kept_alive_connection_is_closed_after_the_idle_timeout(strict):
    client = tls_client(strict.https_port)
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    response = b""
    while b'{"status":"ok"}' not in response:
        response += client.recv(4096)
    assert response.startswith(b"HTTP/1.1 200")
    answered = time.monotonic()
    client.settimeout(TIMEOUT + SLACK + 5)
    try:
        assert client.recv(4096) == b"", "the server sent something unasked"
    except (ConnectionError, ssl.SSLError):
        pass
    idle = time.monotonic() - answered
    assert TIMEOUT - 0.5 <= idle <= TIMEOUT + SLACK, f"closed after {idle:.1f} s, http.idle_timeout is {TIMEOUT} s"
    client.close()
