#!/usr/bin/env python3
"""Webhook delivery on loopback (issue 11), each figure beside an anchor measured in the same run.

  latency  event -> delivery: the envelope's created_at (taken when the hub emits the event) to the
           receiver's arrival time, for events made one at a time by PATCHes (paced, 20/s). Anchor: the
           same receiver POSTed to straight from Python (the loopback HTTP floor). Goal: p99 < 100 ms.
  cpu      onair's CPU for 1,000 events (100 streams x 1 create + 9 PATCHes, 4 API clients), with one
           endpoint, against the same load on an onair with no endpoint: the difference is what
           recording, signing and delivering 1,000 webhooks costs.

    .venv/bin/python bench/webhooks.py [--onair .build/release/onair] [--output bench/webhooks.md]
"""
import argparse
from datetime import datetime
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT / "Tests/EndToEndTests"))
sys.path.insert(0, str(BENCH))
import conftest  # noqa: E402
from run import log, machine_info, percentile, proc_runtime  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"
API = "/video/v1/live-streams"


def start(receiver=None):
    extra = ["webhooks:", f"  - url: {receiver.url}", f"    signing_secret: {SECRET}"] if receiver else []
    root = Path(tempfile.mkdtemp(prefix="onair-bench-webhooks-"))
    return conftest.Onair(root, extra=extra).start()


def stop(server):
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def session(server):
    s = requests.Session()
    s.verify = str(server.certificate)
    s.trust_env = False
    s.auth = server.write_token
    return s


def phase_latency(count):
    receiver = Receiver(SECRET)
    server = start(receiver)
    try:
        s = session(server)
        stream = s.post(server.base_url + API, json={}, timeout=10).json()["data"]
        receiver.wait_for(lambda e: len(e) >= 1, what="created")
        for i in range(count):
            s.patch(f"{server.base_url}{API}/{stream['id']}", json={"passthrough": str(i)}, timeout=10).raise_for_status()
            time.sleep(0.05)
        receiver.wait_for(lambda e: len(e) >= count + 1, timeout=60, what="every event")
        assert not receiver.errors(), receiver.errors()[:3]
        latencies = []
        for record in receiver.records()[1:]:
            stamp = datetime.fromisoformat(record["event"]["created_at"]).timestamp()
            latencies.append((record["wall"] - stamp) * 1000)
    finally:
        stop(server)
        receiver.close()
    # Anchor: the same receiver, POSTed to directly with a signed body of the same size.
    anchor = Receiver(SECRET)
    try:
        body = json.dumps(receiver.records()[-1]["event"]).encode()
        direct = requests.Session()
        sent = []
        for _ in range(count):
            t = int(time.time())
            signature = f"t={t},v1=" + hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
            sent.append(time.time())
            direct.post(anchor.url, data=body, headers={"Mux-Signature": signature, "Content-Type": "application/json"}, timeout=10)
            time.sleep(0.05)
        anchor_latencies = [(r["wall"] - s0) * 1000 for r, s0 in zip(anchor.records(), sent)]
    finally:
        anchor.close()
    return latencies, anchor_latencies


def burst(server, streams=100, changes=9, clients=4):
    def work(n):
        s = session(server)
        for _ in range(n):
            stream = s.post(server.base_url + API, json={}, timeout=30).json()["data"]
            for i in range(changes):
                s.patch(f"{server.base_url}{API}/{stream['id']}", json={"passthrough": str(i)}, timeout=30).raise_for_status()
    threads = [threading.Thread(target=work, args=(streams // clients,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def phase_cpu():
    results = {}
    for name in ("without", "with"):
        receiver = Receiver(SECRET) if name == "with" else None
        server = start(receiver)
        try:
            time.sleep(1)
            before, started = proc_runtime(server.process.pid), time.monotonic()
            burst(server)
            if receiver:
                receiver.wait_for(lambda e: len({x["id"] for x in e}) >= 1000, timeout=120, what="1000 events")
                assert not receiver.errors()
            else:
                time.sleep(0.5)  # the same settle time as the delivery tail, roughly
            results[name] = {"cpu": proc_runtime(server.process.pid) - before, "seconds": time.monotonic() - started}
        finally:
            stop(server)
            if receiver:
                receiver.close()
    return results


def main():
    parser = argparse.ArgumentParser(description="webhook delivery latency and CPU (issue 11)")
    parser.add_argument("--onair", default=os.environ.get("ONAIR") or str(ROOT / ".build/release/onair"))
    parser.add_argument("--events", type=int, default=300, help="paced events for the latency figure (default 300)")
    parser.add_argument("--output", default=str(BENCH / "webhooks.md"))
    args = parser.parse_args()
    conftest.ONAIR = args.onair
    log(f"latency: {args.events} paced events")
    latencies, anchor = phase_latency(args.events)
    log("cpu: 1,000 events, with and without an endpoint")
    cpu = phase_cpu()
    p50, p99, pmax = percentile(latencies, 50), percentile(latencies, 99), max(latencies)
    a50, a99 = percentile(anchor, 50), percentile(anchor, 99)
    extra_ms = (cpu["with"]["cpu"] - cpu["without"]["cpu"]) * 1000 / 1000
    rows = [
        ("event -> delivery p50", f"{p50:.1f} ms", f"{a50:.1f} ms", f"{p50 / a50:.1f}x"),
        ("event -> delivery p99", f"{p99:.1f} ms", f"{a99:.1f} ms", f"{p99 / a99:.1f}x"),
        ("event -> delivery max", f"{pmax:.1f} ms", "", ""),
        ("CPU, 1,000 API changes", f"{cpu['with']['cpu']:.2f} s (with an endpoint)", f"{cpu['without']['cpu']:.2f} s (none)",
         f"{cpu['with']['cpu'] / cpu['without']['cpu']:.2f}x"),
        ("CPU per webhook event", f"{extra_ms:.2f} ms", "", ""),
    ]
    machine = machine_info()
    info = f"{machine['nproc']} x {machine['cpu']}, {machine['memory']}, load {machine['load_at_start']}"
    lines = [
        "# Webhook delivery (issue 11)", "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {info}, `{os.path.relpath(args.onair, ROOT)}`, loopback,",
        f"by `.venv/bin/python bench/webhooks.py` (`make bench`). Goal: p99 under 100 ms: "
        f"**{'met' if p99 < 100 else 'NOT met'}** ({p99:.1f} ms).", "",
        "| figure | onair | anchor | ratio |", "|---|---|---|---|",
    ] + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows] + [
        "",
        f"- Latency: {args.events} events made one at a time (a PATCH every 50 ms), from the envelope's `created_at` (the hub emits the",
        "  event) to the receiver's arrival time; it includes the SQLite outbox write and a worker wake-up. Anchor: the same Python",
        "  receiver POSTed to directly with a signed body of the same size (Python client; the loopback HTTP floor).",
        "- CPU: onair's CPU time (all threads, /proc schedstat) over the same 1,000 API changes (100 streams x 1 create + 9 PATCHes,",
        "  4 clients), once with one endpoint and once with none; the difference per event is the outbox record, the envelope,",
        "  the HMAC and the POST. The API's own work (TLS, JSON, SQLite) is in both.",
        f"- Burst wall time: {cpu['with']['seconds']:.1f} s with the endpoint (until the 1,000th event arrived), "
        f"{cpu['without']['seconds']:.1f} s without.",
        "- Where the CPU goes (valgrind callgrind on the release build, 200 events): about half in SQLite (the outbox record in",
        "  the hub's transaction, the delivery's removal, the head-of-queue queries). Two costs found that way are gone: a",
        "  Foundation ISO8601DateFormatter per envelope (14 % of the process) and String(format:) per signature byte (8 %).",
    ]
    Path(args.output).write_text("\n".join(lines) + "\n")
    for row in rows:
        log(" | ".join(row))
    log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
