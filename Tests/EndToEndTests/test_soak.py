"""Memory soak (issue 6): streams publish, disconnect and reconnect for minutes while streams are
created and deleted through the API; onair's RSS must level off. Prints the RSS curve."""
import os
import statistics
import threading
import time

import rtmp_client
from api_helpers import API, call, data, session
from conftest import make_clip

SOAK_SECONDS = float(os.environ.get("ONAIR_SOAK_SECONDS", "150"))
GROWTH_BOUND_MB = 8.0


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_publish_and_reconnect_churn_does_not_grow_memory(onair):
    tags = rtmp_client.read_flv(make_clip("av", 4, size="640x360"))
    # Half the streams end their broadcast at every disconnect, half reconnect inside the window.
    streams = [onair.create_stream(reconnect_window=0 if n % 2 else 30) for n in range(8)]
    stop = threading.Event()
    sessions, failures = [0], []

    def churn(stream):
        while not stop.is_set():
            try:
                sock = rtmp_client.publish(onair.rtmp_port, stream["stream_key"])
                rtmp_client.push_tags(sock, tags, realtime=True)
                sock.close()
                sessions[0] += 1
                time.sleep(0.3)
            except (AssertionError, OSError) as error:  # a busy key right after a disconnect is fine once
                failures.append(repr(error))
                time.sleep(1)

    workers = [threading.Thread(target=churn, args=(s,), daemon=True) for s in streams]
    for worker in workers:
        worker.start()
    s = session(onair)
    curve, started = [], time.monotonic()
    while (elapsed := time.monotonic() - started) < SOAK_SECONDS:
        extra = data(call(s, onair, "POST", API, json={"playback_policy": ["public"]}), 201)
        assert call(s, onair, "DELETE", f"{API}/{extra['id']}").status_code == 204
        curve.append((round(elapsed), round(rss_mb(onair.process.pid), 1)))
        time.sleep(5)
    stop.set()
    for worker in workers:
        worker.join(timeout=15)
    print("soak RSS curve (s, MB):", curve, "sessions:", sessions[0], "failures:", len(failures))
    assert onair.process.poll() is None
    assert sessions[0] >= SOAK_SECONDS / 6, f"only {sessions[0]} sessions ran: {failures[:5]}"
    assert len(failures) <= sessions[0] // 10, failures[:10]
    third = max(1, len(curve) // 3)
    warm = statistics.median(mb for _, mb in curve[third:2 * third])
    final = statistics.median(mb for _, mb in curve[2 * third:])
    assert final - warm <= GROWTH_BOUND_MB, f"RSS grew {final - warm:.1f} MB after warm-up: {curve}"
