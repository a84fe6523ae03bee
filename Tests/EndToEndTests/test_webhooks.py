"""Webhooks (issue 11) against real receivers: Mux's envelope and signature (every POST is verified
with the documented algorithm and a 300 s tolerance), the lifecycle sequence of a real ffmpeg
broadcast with a reconnect, retries with the same id, a hanging endpoint cut at 5 s while another
gets its events, kill -9 with events queued, a burst of 1,000, the outbox bound, SIGHUP reload,
HTTPS with a CA file, and `onair webhooks test`."""
import hashlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from api_helpers import API, call, data, session
from conftest import ONAIR, Onair, finish, free_port, make_clip, require, tls_certificate

SECRET = "whsec-e2e-0123456789abcdef"


def webhook_lines(endpoints, delivery=None):
    """The `webhooks:` YAML for [(url, secret, events or None, ca_file or None)]."""
    lines = ["webhooks:"]
    for url, secret, events, ca_file in endpoints:
        lines += [f"  - url: {url}", f"    signing_secret: {secret}"]
        if events:
            lines.append(f"    events: [{', '.join(events)}]")
        if ca_file:
            lines.append(f"    ca_file: {ca_file}")
    lines += ["environment_name: E2E hall"]
    if delivery:
        lines += ["webhook_delivery:"] + [f"  {k}: {v}" for k, v in delivery.items()]
    return lines


@pytest.fixture
def servers():
    """Makes onair servers with extra config; stops and removes them all."""
    require(ONAIR)
    made = []

    def make(extra, **options):
        root = Path(tempfile.mkdtemp(prefix="onair-e2e-webhooks-"))
        server = Onair(root, extra=extra, **options)
        made.append(server)
        return server

    yield make
    for server in made:
        if server.process and server.process.poll() is None:
            server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def label(url):
    """An endpoint's `endpoint` label: scheme://host:port and 8 hex digits of SHA-256 of the URL."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}#{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def metric(onair, name, **labels):
    """The value of one sample of /metrics (0 when absent); `endpoint=` takes the URL."""
    if "endpoint" in labels:
        labels["endpoint"] = label(labels["endpoint"])
    text = requests.get(onair.metrics_url, timeout=5).text
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_metric(onair, name, value, timeout=20, at_least=False, **labels):
    deadline = time.monotonic() + timeout
    while (current := metric(onair, name, **labels)) != value and not (at_least and current >= value):
        assert time.monotonic() < deadline, f"{name}{labels} is {current}, expected {value}"
        time.sleep(0.2)


def assert_envelope(event, environment=None):
    """Mux's envelope, field by field."""
    assert set(event) == {"type", "object", "id", "environment", "data", "created_at", "attempts",
                          "accessor_source", "accessor", "request_id"}, event
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", event["id"]), event["id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["created_at"]), event["created_at"]
    assert event["accessor_source"] is None and event["accessor"] is None and event["request_id"] is None
    assert isinstance(event["attempts"], list)
    assert event["environment"]["name"] == "E2E hall" and re.fullmatch(r"[a-z0-9]{8}", event["environment"]["id"])
    if environment:
        assert event["environment"] == environment
    if event["type"].startswith("video.live_stream."):
        assert event["object"] == {"type": "live", "id": event["data"]["id"]}
        assert isinstance(event["data"]["created_at"], int), "Mux's webhooks carry data.created_at as a number"


def test_a_broadcast_with_a_reconnect_sends_muxs_sequence(servers, receivers):
    """publish -> disconnect -> reconnect inside the window -> stop -> window expiry (docs/webhooks.md)."""
    clip = make_clip("av", 10)
    everything = receivers(SECRET)
    filtered = receivers("whsec-filtered-0123456789")
    onair = servers(webhook_lines([(everything.url, SECRET, None, None),
                                   (filtered.url, "whsec-filtered-0123456789",
                                    ["video.live_stream.active", "video.live_stream.idle"], None)])).start()
    s = session(onair)
    stream = data(call(s, onair, "POST", API, json={"playback_policies": ["public"], "reconnect_window": 4}), 201)
    everything.wait_for(lambda e: len(e) >= 1, what="created")
    code, err = finish(onair.publish(clip, stream))  # 10 s at real time: active after 3 segments
    assert code == 0, err
    everything.wait_for(lambda e: [x["type"] for x in e][-1:] == ["video.live_stream.disconnected"], what="disconnected")
    code, err = finish(onair.publish(clip, stream))  # the reconnect, inside the 4 s window
    assert code == 0, err
    events = everything.wait_for(lambda e: [x["type"] for x in e][-1:] == ["video.live_stream.idle"], timeout=30, what="idle")
    assert not everything.errors(), everything.errors()
    sequence = [(e["type"].removeprefix("video.live_stream."), e["data"]["status"]) for e in events]
    assert sequence == [
        ("created", "idle"),
        ("connected", "idle"), ("recording", "idle"), ("active", "active"), ("disconnected", "active"),
        ("connected", "active"), ("recording", "active"), ("active", "active"), ("disconnected", "active"),
        ("idle", "idle"),
    ], sequence
    environment = events[0]["environment"]
    for event in events:
        assert_envelope(event, environment)
        assert event["data"]["id"] == stream["id"] and event["attempts"] == []
        assert event["data"]["stream_key"] == stream["stream_key"]
        assert event["data"]["playback_ids"] == stream["playback_ids"]
    assert len({e["id"] for e in events}) == len(events), "every event has its own id"
    assert [e["created_at"] for e in events] == sorted(e["created_at"] for e in events)
    # The same data as the API returns, but created_at as a number.
    final = data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)
    assert {**events[-1]["data"], "created_at": str(events[-1]["data"]["created_at"])} == final
    # The filtered endpoint got its two types only, signed with its own secret.
    got = filtered.wait_for(lambda e: len(e) >= 3, what="filtered")
    assert [e["type"] for e in got] == ["video.live_stream.active", "video.live_stream.active", "video.live_stream.idle"]
    assert not filtered.errors()
    wait_metric(onair, "onair_webhook_deliveries_total", len(events), endpoint=everything.url)


def test_a_failing_endpoint_gets_the_event_again_with_the_same_id(servers, receivers):
    receiver = receivers(SECRET, behaviour=[500, 500, 200])
    onair = servers(webhook_lines([(receiver.url, SECRET, None, None)])).start()
    stream = data(call(session(onair), onair, "POST", API, json={}), 201)
    events = receiver.wait_for(lambda e: len(e) >= 3, what="three attempts")
    time.sleep(1.5)
    events = receiver.events()
    assert not receiver.errors(), receiver.errors()
    assert len(events) == 3, [e["id"] for e in events]
    assert {e["id"] for e in events} == {events[0]["id"]} and events[0]["type"] == "video.live_stream.created"
    assert events[0]["data"]["id"] == stream["id"]
    assert [len(e["attempts"]) for e in events] == [0, 1, 2], "attempts lists the earlier ones"
    for attempt in events[2]["attempts"]:
        assert set(attempt) == {"id", "address", "created_at", "max_attempts", "response_body", "response_headers",
                                "response_status_code", "webhook_id"}
        assert attempt["response_status_code"] == 500 and attempt["address"] == receiver.url
    # A fresh signature per attempt: each one's t is when it was sent (the three span at least 1.5 s).
    records = receiver.records()
    assert all(abs(r["wall"] - r["t"]) < 2 for r in records), [(r["wall"], r["t"]) for r in records]
    assert records[0]["t"] < records[2]["t"] and records[0]["headers"]["Mux-Signature"] != records[2]["headers"]["Mux-Signature"]
    wait_metric(onair, "onair_webhook_retries_total", 2, endpoint=receiver.url)
    wait_metric(onair, "onair_webhook_deliveries_total", 1, endpoint=receiver.url)
    wait_metric(onair, "onair_webhook_events_queued", 0, endpoint=receiver.url)


def test_a_hanging_endpoint_is_cut_at_five_seconds_and_delays_no_other(servers, receivers):
    hanging = receivers(SECRET, behaviour="hang")
    healthy = receivers(SECRET)
    onair = servers(webhook_lines([(hanging.url, SECRET, None, None), (healthy.url, SECRET, None, None)])).start()
    s = session(onair)
    started = time.monotonic()
    ids = [data(call(s, onair, "POST", API, json={}), 201)["id"] for _ in range(3)]
    hanging.wait_for(lambda e: len(e) >= 1, what="the hanging endpoint's first request")
    got = healthy.wait_for(lambda e: len(e) >= 3, what="the healthy endpoint's events")
    assert sorted(e["data"]["id"] for e in got) == sorted(ids)
    healthy_done = max(r["received"] for r in healthy.records())
    # Ingest and the API do not wait either.
    assert data(call(s, onair, "GET", f"{API}/{ids[0]}"), 200)["id"] == ids[0]
    deadline = time.monotonic() + 15
    while not any("cut" in r for r in hanging.records()):
        assert time.monotonic() < deadline, "the hanging request was never cut"
        time.sleep(0.05)
    first = next(r for r in hanging.records() if "cut" in r)
    held = first["cut"] - first["received"]
    assert 4.5 <= held <= 7.5, f"the attempt was cut after {held:.1f} s, not at the 5 s timeout"
    assert healthy_done < first["cut"], "the healthy endpoint had its events before the hanging attempt ended"
    assert healthy_done - started < 4.5, "the healthy endpoint did not wait for the hanging one"
    wait_metric(onair, "onair_webhook_retries_total", 3, endpoint=hanging.url, timeout=10, at_least=True)


def test_kill_9_with_events_queued_loses_none(servers, receivers):
    port = free_port()  # nothing listens yet: every attempt is refused
    url = f"http://127.0.0.1:{port}/mux-webhooks"
    onair = servers(webhook_lines([(url, SECRET, None, None)])).start()
    s = session(onair)
    streams = [data(call(s, onair, "POST", API, json={}), 201) for _ in range(5)]
    for i, stream in enumerate(streams):
        data(call(s, onair, "PATCH", f"{API}/{stream['id']}", json={"passthrough": f"p{i}"}), 200)
    wait_metric(onair, "onair_webhook_events_queued", 10, endpoint=url)
    onair.process.send_signal(signal.SIGKILL)
    onair.process.wait(timeout=10)
    onair.log.close()
    made_while_down = onair.create_stream()  # the CLI, with no server running
    receiver = receivers(SECRET, port=port)
    onair.start()
    receiver.wait_for(lambda e: len({x["id"] for x in e}) >= 11, timeout=40, what="all 11 events")
    assert not receiver.errors(), receiver.errors()
    unique = receiver.unique()
    expected = {("video.live_stream.created", s["id"]) for s in streams + [made_while_down]} | \
               {("video.live_stream.updated", s["id"]) for s in streams}
    assert {(e["type"], e["data"]["id"]) for e in unique} == expected
    for stream in streams:
        mine = [e["type"] for e in unique if e["data"]["id"] == stream["id"]]
        assert mine == ["video.live_stream.created", "video.live_stream.updated"], "one stream's events in order"
    time.sleep(1.5)
    assert len(receiver.unique()) == 11, "nothing more, nothing twice under a new id"


def test_a_stream_live_when_the_process_died_becomes_idle_with_its_event(servers, receivers):
    clip = make_clip("av", 20)
    receiver = receivers(SECRET)
    onair = servers(webhook_lines([(receiver.url, SECRET, None, None)])).start()
    stream = data(call(session(onair), onair, "POST", API, json={"reconnect_window": 60}), 201)
    publisher = onair.publish(clip, stream)
    try:
        receiver.wait_for(lambda e: "video.live_stream.active" in [x["type"] for x in e], what="active")
        onair.process.send_signal(signal.SIGKILL)
        onair.process.wait(timeout=10)
        onair.log.close()
    finally:
        publisher.kill()
        publisher.wait()
    onair.start()
    events = receiver.wait_for(lambda e: [x["type"] for x in e][-1:] == ["video.live_stream.idle"], what="idle after restart")
    assert events[-1]["data"]["status"] == "idle" and events[-1]["data"]["id"] == stream["id"]
    assert data(call(session(onair), onair, "GET", f"{API}/{stream['id']}"), 200)["status"] == "idle"


def test_a_graceful_stop_delivers_every_broadcasts_end(servers, receivers):
    clip = make_clip("av", 20)
    receiver = receivers(SECRET)
    onair = servers(webhook_lines([(receiver.url, SECRET, None, None)])).start()
    s = session(onair)
    streams = [data(call(s, onair, "POST", API, json={"reconnect_window": 60}), 201) for _ in range(2)]
    publishers = [onair.publish(clip, stream) for stream in streams]
    try:
        receiver.wait_for(lambda e: [x["type"] for x in e].count("video.live_stream.active") == 2, what="both active")
        onair.stop()  # SIGTERM: every broadcast ends, and its events go out before the process exits
    finally:
        for publisher in publishers:
            publisher.kill()
            publisher.wait()
    for stream in streams:
        mine = [e["type"].removeprefix("video.live_stream.") for e in receiver.events() if e["data"]["id"] == stream["id"]]
        assert mine[-2:] == ["disconnected", "idle"], mine
    assert not receiver.errors()


def test_a_burst_of_a_thousand_events_arrives_complete_and_in_order(servers, receivers):
    receiver = receivers(SECRET)
    onair = servers(webhook_lines([(receiver.url, SECRET, None, None)])).start()
    ids = []
    lock = threading.Lock()

    def work(n):
        s = session(onair)
        for _ in range(n):
            stream = data(call(s, onair, "POST", API, json={}), 201)
            for i in range(1, 10):
                data(call(s, onair, "PATCH", f"{API}/{stream['id']}", json={"passthrough": str(i)}), 200)
            with lock:
                ids.append(stream["id"])

    threads = [threading.Thread(target=work, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(ids) == 100
    receiver.wait_for(lambda e: len({x["id"] for x in e}) >= 1000, timeout=120, what="1000 events")
    assert not receiver.errors(), receiver.errors()[:3]
    unique = receiver.unique()
    assert len(unique) == 1000
    for stream_id in ids:
        mine = [e for e in unique if e["data"]["id"] == stream_id]
        assert [e["type"] for e in mine] == ["video.live_stream.created"] + ["video.live_stream.updated"] * 9
        assert [e["data"].get("passthrough") for e in mine[1:]] == [str(i) for i in range(1, 10)], "in order"
    wait_metric(onair, "onair_webhook_events_queued", 0, endpoint=receiver.url)


def test_the_outbox_bound_keeps_the_newest(servers, receivers):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mux-webhooks"
    onair = servers(webhook_lines([(url, SECRET, None, None)], delivery={"max_queued": 20})).start()
    s = session(onair)
    streams = [data(call(s, onair, "POST", API, json={}), 201) for _ in range(25)]
    for stream in streams:
        data(call(s, onair, "PATCH", f"{API}/{stream['id']}", json={"passthrough": "x"}), 200)
    wait_metric(onair, "onair_webhook_events_queued", 20, endpoint=url)
    assert metric(onair, "onair_webhook_events_dropped_total", endpoint=url, reason="outbox_full") == 30
    assert "webhook outbox full" in onair.log_text()
    receiver = receivers(SECRET, port=port)
    receiver.wait_for(lambda e: len({x["id"] for x in e}) >= 20, timeout=40, what="the 20 kept events")
    time.sleep(2)
    unique = receiver.unique()
    assert len(unique) == 20, [(e["type"][18:], streams.index(next(x for x in streams if x["id"] == e["data"]["id"])), len(e["attempts"])) for e in unique]
    assert {(e["type"], e["data"]["id"]) for e in unique} == \
        {("video.live_stream.updated", s["id"]) for s in streams[5:]} | set(), "the 20 newest: the last 20 updates"


def test_sighup_keeps_queued_events_and_applies_the_new_endpoints(servers, receivers):
    port = free_port()
    kept_url = f"http://127.0.0.1:{port}/mux-webhooks"
    removed = receivers(SECRET)
    onair = servers(webhook_lines([(kept_url, SECRET, None, None), (removed.url, SECRET, None, None)])).start()
    s = session(onair)
    before = data(call(s, onair, "POST", API, json={}), 201)
    removed.wait_for(lambda e: len(e) >= 1, what="the created event before the reload")
    wait_metric(onair, "onair_webhook_events_queued", 1, endpoint=kept_url)
    added = receivers("whsec-added-0123456789ab")
    text = onair.config.read_text()
    text = text.replace(f"  - url: {removed.url}\n    signing_secret: {SECRET}\n",
                        f"  - url: {added.url}\n    signing_secret: whsec-added-0123456789ab\n")
    text = text.replace(f"  - url: {kept_url}\n    signing_secret: {SECRET}\n",
                        f"  - url: {kept_url}\n    signing_secret: whsec-rotated-0123456789\n")
    onair.config.write_text(text)
    onair.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "configuration reloaded" not in onair.log_text():
        assert time.monotonic() < deadline, onair.log_text()[-2000:]
        time.sleep(0.1)
    after = data(call(s, onair, "POST", API, json={}), 201)
    got = added.wait_for(lambda e: len(e) >= 1, what="the new endpoint's event")
    assert [e["data"]["id"] for e in got] == [after["id"]], "a new endpoint gets events from the reload on"
    kept = receivers("whsec-rotated-0123456789", port=port)
    # Only POSTs that verify with the new secret count (one signed before the reload would be answered 401, and retried).
    kept.wait_for(lambda e: len({x["id"] for x in e}) >= 2, timeout=40, what="the kept endpoint's queue")
    assert sorted(e["data"]["id"] for e in kept.unique()) == sorted([before["id"], after["id"]]), "queued before the reload, kept"
    time.sleep(1)
    assert [e["data"]["id"] for e in removed.events()] == [before["id"]], "a removed endpoint gets nothing more"


def test_https_endpoints_verify_their_certificate(servers, receivers):
    cert, key = tls_certificate()
    trusted = receivers(SECRET, tls=(str(cert), str(key)))
    untrusted = receivers(SECRET, tls=(str(cert), str(key)))
    onair = servers(webhook_lines([(trusted.url, SECRET, None, str(cert)), (untrusted.url, SECRET, None, None)])).start()
    stream = data(call(session(onair), onair, "POST", API, json={}), 201)
    got = trusted.wait_for(lambda e: len(e) >= 1, what="an HTTPS delivery with the CA file")
    assert got[0]["data"]["id"] == stream["id"]
    wait_metric(onair, "onair_webhook_retries_total", 1, endpoint=untrusted.url, at_least=True)
    assert untrusted.events() == [], "a certificate the system store does not trust is refused"
    assert "webhook endpoint failing" in onair.log_text()


def test_the_webhooks_test_command_sends_a_signed_event(servers, receivers):
    ok = receivers(SECRET)
    failing = receivers(SECRET, behaviour=503)
    onair = servers(webhook_lines([(ok.url, SECRET, None, None), (failing.url, SECRET, None, None)]))
    out = subprocess.run([ONAIR, "webhooks", "test", "--config", str(onair.config), "--url", ok.url],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert f"{ok.url}: HTTP 200" in out.stdout and '{"ok":true}' in out.stdout, out.stdout
    [event] = ok.events()
    assert not ok.errors()
    assert event["type"] == "onair.webhook.test" and event["attempts"] == []
    assert_envelope(event)
    out = subprocess.run([ONAIR, "webhooks", "test", "--config", str(onair.config)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and f"{failing.url}: HTTP 503" in out.stdout, out.stdout
    out = subprocess.run([ONAIR, "webhooks", "test", "--config", str(onair.config), "--url", "http://elsewhere/"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "is not among the webhooks" in out.stderr
