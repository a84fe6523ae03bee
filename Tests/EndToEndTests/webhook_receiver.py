"""A real webhook receiver for the end-to-end tests: an HTTP server on loopback that verifies every
POST's Mux-Signature the way Mux's SDKs document it (HMAC-SHA256 of "<t>.<raw body>", hex, a 300 s
tolerance, constant-time comparison) and records what arrived.

`behaviour` decides each answer: a list of status codes used in turn (then 200), one status code for
all, or "hang" to hold every request without answering. A POST whose signature does not verify is
answered 401, as an application would.
"""
import hashlib
import hmac
import json
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300


def verify_signature(header, body, secret, now=None):
    """Mux's algorithm: t=<unix>,v1=<hex>[,v1=...]; raises AssertionError with the reason."""
    assert header, "no Mux-Signature header"
    parts = [item.split("=", 1) for item in header.split(",")]
    assert all(len(p) == 2 for p in parts), f"malformed Mux-Signature: {header}"
    timestamps = [v for k, v in parts if k == "t"]
    signatures = [v for k, v in parts if k == "v1"]
    assert len(timestamps) == 1 and signatures, f"Mux-Signature needs one t and a v1: {header}"
    t = int(timestamps[0])
    now = time.time() if now is None else now
    assert abs(now - t) <= TOLERANCE, f"signature timestamp {t} is {now - t:.0f} s away from now"
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert any(hmac.compare_digest(expected, s) for s in signatures), "signature does not match the body"
    return t


class Receiver:
    def __init__(self, secret, behaviour=None, port=0, tls=None):
        self.secret = secret
        self.behaviour = behaviour if behaviour is not None else []
        self.requests = []  # dicts: event (parsed), headers, t, received (monotonic), error
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                started = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                record = {"headers": dict(self.headers), "received": started, "wall": time.time(), "body": body}
                try:
                    record["t"] = verify_signature(self.headers.get("Mux-Signature"), body, receiver.secret)
                    record["event"] = json.loads(body)
                except Exception as error:  # recorded: the test asserts there are none
                    record["error"] = repr(error)
                with receiver.lock:
                    index = len(receiver.requests)
                    receiver.requests.append(record)
                    receiver.arrived.notify_all()
                    answer = receiver.behaviour[index] if isinstance(receiver.behaviour, list) and index < len(receiver.behaviour) \
                        else (receiver.behaviour if isinstance(receiver.behaviour, (str, int)) else 200)
                if "error" in record:
                    answer = 401  # as an application using Mux's SDK would: the signature does not verify
                if answer == "hang":
                    # Never answer; note when the client gives up (its end of the connection closes).
                    while not receiver.released.is_set():
                        readable, _, _ = select.select([self.connection], [], [], 0.05)
                        if readable:
                            try:
                                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                                    break
                            except OSError:
                                break
                    with receiver.lock:
                        record["cut"] = time.monotonic()
                    self.close_connection = True
                    return
                payload = b'{"ok":true}'
                self.send_response(int(answer))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls:  # (certificate, key): HTTPS with that certificate
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}/mux-webhooks"

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        """Every signed, parsed event received (retries included), oldest first."""
        with self.lock:
            return [r["event"] for r in self.requests if "event" in r]

    def records(self):
        with self.lock:
            return list(self.requests)

    def errors(self):
        with self.lock:
            return [r["error"] for r in self.requests if "error" in r]

    def unique(self):
        """Events by id, first arrival kept, in arrival order."""
        seen, out = set(), []
        for event in self.events():
            if event["id"] not in seen:
                seen.add(event["id"])
                out.append(event)
        return out

    def wait_for(self, predicate, timeout=30, what="events"):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                events = [r["event"] for r in self.requests if "event" in r]
                if predicate(events):
                    return events
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {[e['type'] for e in events]}")
                self.arrived.wait(remaining)
