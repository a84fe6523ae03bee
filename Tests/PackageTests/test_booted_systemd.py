"""The .deb under a real, booted systemd: a Debian 12 root made with debootstrap and booted with
systemd-nspawn (booted.py), the package installed inside it with apt, checked from inside with
systemctl, journalctl and ss, and from the host with ffmpeg, ffprobe and HTTPS requests (the container
shares the host's network: the service binds the host's 443 and 1935, which must be free).

What a stand-in notify socket (test_package.py) cannot show: that systemd itself calls the unit
active only after READY=1, reloads it, restarts it when its watchdog pings stop, stops it cleanly,
keeps its tmpfs RuntimeDirectory across a restart, rates its sandbox online, and files its output
in the journal at the right priorities, and that an idle service keeps the journal quiet.

The tests run in file order on one container: the previous package version is installed first,
upgraded to ONAIR_DEB, exercised, then purged. ONAIR_NSPAWN_BASE may name a pristine root made
earlier by debootstrap (booted.INCLUDE) to skip the minute debootstrap takes; CI leaves it unset
and makes the root once per run.
"""
import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from booted import BootedSystem, make_root
from debs import repack, run

REPO = Path(__file__).resolve().parents[2]
DEB = Path(os.environ.get("ONAIR_DEB", ""))
BASE = os.environ.get("ONAIR_NSPAWN_BASE")
WATCHDOG_SEC = 30
# systemd's watchdog check runs on its own timer, and the kill and restart take a moment.
WATCHDOG_MARGIN = 15
EXPOSURE_LIMIT = 2.0
IDLE_SECONDS = 60
# The last start-up lines can trail "onair ready" by this much (threads the runtime starts as the
# first work arrives); everything later counts against the quiet minute.
STARTUP_TAIL = 3.0
THREAD_PRIORITY = "Failed to set thread priority"
MINE = "_SYSTEMD_UNIT=onair.service"


def previous_version() -> str:
    """The version of the changelog's second entry: the release before this one."""
    versions = re.findall(r"^onair \(([^)]+)\)", (REPO / "packaging/debian/changelog").read_text(), re.M)
    assert len(versions) >= 2, "packaging/debian/changelog needs a previous entry to upgrade from"
    return versions[1]


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME-WAIT is no obstacle
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


# ---------------------------------------------------------------- the container

@pytest.fixture(scope="module")
def system():
    assert os.geteuid() == 0, "systemd-nspawn needs root: run `make package-test`"
    assert DEB.is_file(), f"ONAIR_DEB={DEB!s} is not a file: run `make package-test`, which builds it"
    for tool in ("debootstrap", "systemd-nspawn", "nsenter", "ffmpeg", "ffprobe", "dpkg-deb"):
        assert shutil.which(tool), f"{tool} is required (make package-test installs it)"
    for port in (443, 1935, 9464):
        assert port_free(port), f"port {port} is taken on this machine; the container's service needs it"
    work = Path(tempfile.mkdtemp(prefix="onair-nspawn-", dir="/var/tmp"))
    debs, root = work / "debs", work / "root"
    box = BootedSystem(root, {"/mnt/debs": debs}, work / "console.log")
    try:
        debs.mkdir()
        shutil.copy(DEB, debs / DEB.name)
        old = repack(DEB, previous_version(), debs)
        seconds = make_root(root, Path(BASE) if BASE else None)
        print(f"\n[figure] root {'copied from ' + BASE if BASE else 'made by debootstrap'} in {seconds:.0f} s")
        print(f"[figure] booted in {box.boot():.1f} s (systemd-nspawn pid {box.nspawn.pid}, PID 1 is host pid {box.pid1})")
        t0 = time.monotonic()
        box.sh("apt-get", "update", "-qq", timeout=300)
        r = box.sh("apt-get", "install", "-y", "-q", f"/mnt/debs/{old.name}", timeout=600)
        print(f"[figure] apt-get install of {old.name} with its dependencies: {time.monotonic() - t0:.0f} s")
        assert "created API token" in r.stdout, r.stdout
        box.new_deb = f"/mnt/debs/{DEB.name}"
        box.old_version = previous_version()
        yield box
    finally:
        box.poweroff()
        print(f"[teardown] systemd-nspawn {box.nspawn.pid if box.nspawn else '-'} exited "
              f"{box.nspawn.returncode if box.nspawn else '-'}")
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def debug_pid1(box: BootedSystem):
    """PID 1 at log level debug: its journal then shows each notify message it accepts."""
    box.sh("systemd-analyze", "log-level", "debug")
    try:
        yield
    finally:
        box.sh("systemd-analyze", "log-level", "info")


def notifications(box, cursor, pid):
    """(monotonic usec, fields) of the notify messages PID 1 accepted from `pid` since `cursor`."""
    out = []
    for e in box.journal("_PID=1", cursor=cursor):
        m = re.match(rf"onair\.service: Got notification message from PID {pid} \((.*)\)$", str(e.get("MESSAGE", "")))
        if m:
            out.append((int(e["__MONOTONIC_TIMESTAMP"]), m.group(1)))
    return out


def wait_until(predicate, timeout, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def main_pid(box) -> int:
    return int(box.show("onair", "MainPID")["MainPID"])


class Api:
    """The installed service's HTTPS API, verified against its own certificate."""

    def __init__(self, box: BootedSystem):
        tokens = box.path("/etc/onair/access-tokens.yaml").read_text()
        m = re.match(r"- id: (\S+)\n  secret: (\S+)\n", tokens)
        assert m, tokens
        self.auth = m.groups()
        self.cert = str(box.path("/etc/onair/tls/onair.crt"))
        self.session = requests.Session()
        self.session.trust_env = False

    def request(self, method, path, auth=None, **kw):
        return self.session.request(method, f"https://127.0.0.1{path}", auth=auth or self.auth, verify=self.cert,
                                    timeout=10, **kw)

    def create_stream(self, **body):
        r = self.request("POST", "/video/v1/live-streams", json={"playback_policy": ["public"], **body})
        assert r.status_code == 201, r.text
        return r.json()["data"]


def publish(key, seconds=None):
    """ffmpeg on the host pushing a live test picture and tone to the container's service."""
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
           "-f", "lavfi", "-i", "sine=frequency=440", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
           "-c:a", "aac", *(["-t", str(seconds)] if seconds else []), "-f", "flv", f"rtmp://127.0.0.1:1935/app/{key}"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop_publisher(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def segments(box, stream_id):
    r = box.sh("sh", "-c", f"ls /run/onair/hls/{stream_id} 2>/dev/null", check=False)
    return {name for name in r.stdout.split() if name.endswith((".ts", ".m4s", ".mp4"))}


# ---------------------------------------------------------------- upgrade from the previous version

def test_upgrade_keeps_config_token_certificate_database(system):
    box = system
    api = Api(box)
    wait_until(lambda: box.show("onair", "ActiveState")["ActiveState"] == "active", 30, what="onair active")
    # A reconnect window longer than the watchdog test's freeze and restart.
    stream = api.create_stream(reconnect_window=180)
    conf = box.path("/etc/onair/onair.yaml")
    with conf.open("a") as f:
        f.write("# a local edit that the upgrade must keep\n")
    kept = {p: box.path(p).read_bytes() for p in
            ("/etc/onair/onair.yaml", "/etc/onair/access-tokens.yaml", "/etc/onair/tls/onair.crt",
             "/etc/onair/tls/onair.key")}
    assert box.path("/var/lib/onair/onair.sqlite").exists()
    pid_before = main_pid(box)

    r = box.sh("apt-get", "install", "-y", "-q", box.new_deb, timeout=300)
    print(f"\n[upgrade {box.old_version} -> {DEB.name}]\n" + "\n".join(
        l for l in r.stdout.splitlines()[-12:] if "Reading database" not in l))
    version = box.sh("dpkg-query", "-W", "-f", "${Version}", "onair").stdout
    assert version != box.old_version and DEB.name.startswith(f"onair_{version}_"), version
    assert "created API token" not in r.stdout and "created a self-signed" not in r.stdout
    for path, before in kept.items():
        assert box.path(path).read_bytes() == before, f"{path} changed in the upgrade"
    # The upgraded service was restarted (a new main PID), is active, and its database and token are
    # the old ones: the stream made before the upgrade is still there.
    wait_until(lambda: box.show("onair", "ActiveState")["ActiveState"] == "active", 30, what="onair active again")
    assert main_pid(box) != pid_before, "the upgrade did not restart the service"
    got = api.request("GET", f"/video/v1/live-streams/{stream['id']}")
    assert got.status_code == 200, got.text
    assert got.json()["data"]["stream_key"] == stream["stream_key"]
    box.stream = stream


# ---------------------------------------------------------------- a quiet journal

def ready_entry(box, pid):
    for e in box.journal(MINE, f"_PID={pid}"):
        if e.get("MESSAGE") == "onair ready" or str(e.get("MESSAGE", "")).startswith("onair ready "):
            return e
    return None


def test_idle_service_is_quiet_for_a_minute(system):
    """After its start-up lines a healthy idle service writes nothing, so nothing repeats on a timer."""
    box = system
    pid = main_pid(box)
    ready = wait_until(lambda: ready_entry(box, pid), 30, what="'onair ready' in the journal")
    t_ready = int(ready["__MONOTONIC_TIMESTAMP"])
    quiet_from = t_ready + int(STARTUP_TAIL * 1e6)
    quiet_to = quiet_from + IDLE_SECONDS * 1_000_000
    time.sleep(max(0.0, (quiet_to - box.monotonic_usec()) / 1e6 + 1))
    entries = box.journal(MINE)
    mine = [e for e in entries if e.get("_PID") == str(pid)]
    startup = [e for e in mine if int(e["__MONOTONIC_TIMESTAMP"]) < quiet_from]
    later = [e for e in entries if int(e["__MONOTONIC_TIMESTAMP"]) >= quiet_from]
    print(f"\n[figure] start-up lines: {len(startup)}; lines in the {IDLE_SECONDS} s after them: {len(later)}")
    for e in startup:
        print(f"  [{e.get('PRIORITY')}] {e.get('MESSAGE')}")
    assert not later, "an idle service wrote to the journal:\n" + "\n".join(str(e.get("MESSAGE")) for e in later)
    assert box.show("onair", "ActiveState")["ActiveState"] == "active"

    # The runtime's worker threads take the nice value of their QoS, down to -4: the unit allows
    # setpriority (no EPERM from the filter) and raises RLIMIT_NICE to allow -4 (no EACCES). systemd
    # can raise that limit only with CAP_SYS_RESOURCE, which an unprivileged container's PID 1 may lack.
    assert box.show("onair", "LimitNICE")["LimitNICE"] == "24", "the unit should ask for LimitNICE=-4 (24)"
    limits = box.read(f"/proc/{pid}/limits")
    nice = re.search(r"^Max nice priority\s+(\d+)\s+(\d+)", limits, re.M)
    refusals = [e for e in mine if THREAD_PRIORITY in str(e.get("MESSAGE", ""))]
    assert not [e for e in refusals if "errno=1 " in str(e["MESSAGE"]) or str(e["MESSAGE"]).endswith("errno=1")], \
        "setpriority refused by the unit's SystemCallFilter (EPERM)"
    cap_eff = int(re.search(r"^CapEff:\s+([0-9a-f]+)$", box.read("/proc/1/status"), re.M).group(1), 16)
    if cap_eff & (1 << 24):  # CAP_SYS_RESOURCE: systemd can raise the limit, so it must, and nothing is refused
        assert nice and nice.group(1) == "24", limits
        assert not refusals, f"thread priority refused although RLIMIT_NICE is 24: {[e['MESSAGE'] for e in refusals]}"
    else:
        print(f"[note] this container's PID 1 lacks CAP_SYS_RESOURCE (CapEff {cap_eff:016x}), so the service's "
              f"RLIMIT_NICE is {nice.group(1) if nice else '?'}, not 24: {len(refusals)} thread-priority lines at start-up")


# ---------------------------------------------------------------- start, status, sockets, tmpfs

def test_active_only_after_ready(system):
    box = system
    cursor = box.cursor()
    with debug_pid1(box):
        box.sh("systemctl", "restart", "onair", timeout=60)
        show = box.show("onair", "Type", "ActiveState", "SubState", "MainPID", "StatusText", "WatchdogUSec",
                        "NotifyAccess", "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
    pid = int(show["MainPID"])
    print(f"\n[systemctl show] {show}")
    assert show["Type"] == "notify" and show["NotifyAccess"] == "main" and show["WatchdogUSec"] == "30s"
    assert (show["ActiveState"], show["SubState"]) == ("active", "running")
    started, active = int(show["ExecMainStartTimestampMonotonic"]), int(show["ActiveEnterTimestampMonotonic"])
    print(f"[figure] exec -> active: {(active - started) / 1000:.0f} ms")
    # PID 1's own journal, in the order it wrote it: the unit entered 'start' (activating), accepted
    # READY=1 from the main PID, and only then changed to 'running' (active).
    steps = []
    for e in box.journal("_PID=1", cursor=cursor):
        m = str(e.get("MESSAGE", ""))
        if re.match(r"onair\.service: Changed \S+ -> start$", m):
            steps.append("start")
        elif re.match(rf"onair\.service: Got notification message from PID {pid} \(.*\bREADY=1\b", m):
            steps.append("READY=1")
        elif m == "onair.service: Changed start -> running":
            steps.append("running")
    assert steps == ["start", "READY=1", "running"], steps
    assert started < active
    assert ready_entry(box, pid), "no 'onair ready' line from the main PID"
    assert re.match(r"\d+ streams publishing, \d+ active, \d+ playback requests since last status, \d+ errors",
                    show["StatusText"]), show["StatusText"]


def test_ports_bound_by_onair_under_the_hardened_unit(system):
    box = system
    pid = main_pid(box)
    uid = box.sh("id", "-u", "onair").stdout.strip()
    status = box.read(f"/proc/{pid}/status")
    assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, re.M), status
    # Only CAP_NET_BIND_SERVICE (bit 10), and no way to gain more.
    assert re.search(r"^CapEff:\s+0000000000000400$", status, re.M), status
    assert re.search(r"^CapBnd:\s+0000000000000400$", status, re.M), status
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
    listening = box.sh("ss", "-ltnpH").stdout
    for port in (443, 1935):
        line = [l for l in listening.splitlines() if re.search(rf"\S+:{port}\s", l)]
        assert line and f'"onair",pid={pid},' in line[0], f"port {port} not bound by onair (pid {pid}):\n{listening}"
    # The HLS tree (made per stream, test_publish_and_https_playback) is in the RuntimeDirectory, a
    # tmpfs, owned by the service.
    fs = box.sh("findmnt", "-n", "-o", "FSTYPE", "-T", "/run/onair").stdout.strip()
    assert fs == "tmpfs", fs
    owner = box.sh("stat", "-c", "%U:%G", "/run/onair").stdout.strip()
    assert owner == "onair:onair", owner


def test_security_exposure_online(system):
    r = system.sh("systemd-analyze", "security", "--no-pager", "onair", check=False)
    m = re.search(r"Overall exposure level for onair\.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    print(f"\n[figure] systemd-analyze security onair (online, booted systemd 252): {m.group(1)} "
          f"(limit {EXPOSURE_LIMIT})")
    assert float(m.group(1)) <= EXPOSURE_LIMIT, r.stdout


# ---------------------------------------------------------------- reload

def add_token(box, token_id):
    secret = os.urandom(16).hex()
    path = box.path("/etc/onair/access-tokens.yaml")
    with path.open("a") as f:
        f.write(f"- id: {token_id}\n  secret: {secret}\n  permissions: [video:read]\n")
    return token_id, secret


def test_reload_applies_a_new_token(system):
    box = system
    api = Api(box)
    pid = main_pid(box)
    new = add_token(box, "reload-test")
    assert api.request("GET", "/video/v1/live-streams", auth=new).status_code == 401
    cursor = box.cursor()
    with debug_pid1(box):
        box.sh("systemctl", "reload", "onair", timeout=60)
        got = wait_until(lambda: (lambda n: n if any("READY=1" in f.split(", ") for _, f in n) else None)(
            notifications(box, cursor, pid)), 15, what="READY=1 after the reload")
    fields = [f.split(", ") for _, f in got]
    reloading = next(i for i, f in enumerate(fields) if "RELOADING=1" in f)
    ready = next(i for i, f in enumerate(fields) if "READY=1" in f)
    assert reloading < ready, got
    assert main_pid(box) == pid, "a reload must not restart the process"
    assert box.show("onair", "ActiveState")["ActiveState"] == "active"
    assert any(e.get("MESSAGE") == "configuration reloaded" for e in box.journal(MINE, cursor=cursor))
    r = api.request("GET", "/video/v1/live-streams", auth=new)
    assert r.status_code == 200, r.text


def test_reload_with_a_bad_config_keeps_the_running_one(system):
    box = system
    api = Api(box)
    pid = main_pid(box)
    conf = box.path("/etc/onair/onair.yaml")
    good = conf.read_bytes()
    cursor = box.cursor()
    try:
        conf.write_bytes(good + b"rtmp_typo: 1\n")
        box.sh("systemctl", "reload", "onair", timeout=60)
        wait_until(lambda: [e for e in box.journal(MINE, cursor=cursor)
                            if str(e.get("MESSAGE", "")).startswith("reload failed")], 15, what="'reload failed'")
    finally:
        conf.write_bytes(good)
    wait_until(lambda: box.show("onair", "ActiveState")["ActiveState"] == "active", 15, what="active after the reload")
    assert main_pid(box) == pid
    assert api.request("GET", "/video/v1/live-streams").status_code == 200


# ---------------------------------------------------------------- publish and play

@pytest.fixture(scope="module")
def publisher(system):
    proc = publish(system.stream["stream_key"])
    yield proc
    stop_publisher(proc)


def test_publish_and_https_playback(system, publisher):
    box = system
    api = Api(box)
    stream = box.stream
    playback_id = stream["playback_ids"][0]["id"]
    # 'active' once the playback URL answers (three segments), as Mux's status turns.
    status = lambda: api.request("GET", f"/video/v1/live-streams/{stream['id']}").json()["data"]["status"]
    wait_until(lambda: publisher.poll() is not None or status() == "active", 60, what="the stream 'active'")
    assert publisher.poll() is None, f"ffmpeg exited: {publisher.stderr.read()}"
    playlist = api.request("GET", f"/{playback_id}.m3u8", auth=())
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U"), playlist.text
    # A real player over HTTPS, verifying the installed certificate (its SAN has 127.0.0.1).
    r = run("ffprobe", "-v", "error", "-tls_verify", "1", "-ca_file", api.cert, "-show_entries", "stream=codec_name",
            "-of", "csv=p=0", f"https://127.0.0.1/{playback_id}.m3u8", check=False, timeout=60)
    assert r.returncode == 0, r.stderr
    assert {"h264", "aac"} <= set(r.stdout.split()), r.stdout
    on_tmpfs = segments(box, stream["id"])
    print(f"\n[playback] ffprobe: {r.stdout.split()}; segments in /run/onair/hls/{stream['id']}: {len(on_tmpfs)}")
    assert on_tmpfs


# ---------------------------------------------------------------- journal priorities

def test_journal_priorities_match_the_code(system, publisher):
    """swift-log levels reach the journal as syslog priorities (stderr lines with a <N> prefix)."""
    box = system
    refused = publish("not-a-stream-key", seconds=3)
    try:
        refused.wait(timeout=30)
    finally:
        stop_publisher(refused)
    with socket.create_connection(("127.0.0.1", 1935), timeout=5) as s:
        s.sendall(b"\x09" + os.urandom(1536))  # C0 must be version 3
        s.settimeout(5)
        with contextlib.suppress(OSError):
            while s.recv(4096):
                pass
    expect = {  # message prefix -> PRIORITY (journal field): info 6, notice 5, warning 4, error 3
        "RTMP listening": "6",
        "onair ready": "5",
        "publish refused": "5",
        "connection closed: RTMP protocol error": "4",
        "reload failed; keeping the running configuration": "3",
    }

    def found():
        entries = [e for e in box.journal(MINE) if e.get("SYSLOG_IDENTIFIER") == "onair" or e.get("_TRANSPORT") == "stdout"]
        return {prefix: [e for e in entries if str(e.get("MESSAGE", "")).startswith(prefix)] for prefix in expect}

    seen = wait_until(lambda: (lambda f: f if all(f.values()) else None)(found()), 15,
                      what=f"journal lines for {list(expect)}")
    for prefix, priority in expect.items():
        got = {e["PRIORITY"] for e in seen[prefix]}
        print(f"[journal] {prefix!r}: PRIORITY {sorted(got)}")
        assert got == {priority}, f"{prefix!r} has PRIORITY {got}, expected {priority}"
    stdout = [e for e in box.journal(MINE) if e.get("_TRANSPORT") == "stdout"]
    assert stdout and not [e for e in stdout if re.match(r"<\d>", str(e.get("MESSAGE", "")))], \
        "a line kept its <N> prefix: journald did not parse it"
    # The stream being published never noticed the two bad connections.
    assert publisher.poll() is None


# ---------------------------------------------------------------- the watchdog and the tmpfs

def test_watchdog_restarts_a_frozen_process(system, publisher):
    box = system
    stream = box.stream
    before = segments(box, stream["id"])
    assert before
    show = box.show("onair", "MainPID", "NRestarts")
    pid, restarts = int(show["MainPID"]), int(show["NRestarts"])
    cursor = box.cursor()
    box.sh("kill", "-STOP", str(pid))
    t0 = time.monotonic()

    def restarted():
        s = box.show("onair", "MainPID", "NRestarts", "ActiveState")
        return s if int(s["NRestarts"]) > restarts and s["ActiveState"] == "active" and s["MainPID"] != str(pid) else None

    after = wait_until(restarted, WATCHDOG_SEC + WATCHDOG_MARGIN, what="the watchdog's restart")
    elapsed = time.monotonic() - t0
    print(f"\n[figure] SIGSTOP -> restarted and active again: {elapsed:.1f} s (WatchdogSec={WATCHDOG_SEC}, "
          f"NRestarts {restarts} -> {after['NRestarts']})")
    assert int(after["NRestarts"]) == restarts + 1
    messages = [str(e.get("MESSAGE", "")) for e in box.journal("_PID=1", cursor=cursor)]
    assert "onair.service: Failed with result 'watchdog'." in messages, "\n".join(messages)
    # RuntimeDirectoryPreserve=restart: the segments written before the freeze are still on the tmpfs,
    # and the restarted service continues the broadcast when the encoder comes back.
    kept = segments(box, stream["id"])
    assert before <= kept, f"segments lost in the restart: {sorted(before - kept)}"
    stop_publisher(publisher)
    again = publish(stream["stream_key"])
    box.republisher = again
    wait_until(lambda: [e for e in box.journal(MINE, cursor=cursor)
                        if str(e.get("MESSAGE", "")).startswith("continuing an interrupted broadcast")], 30,
               what="'continuing an interrupted broadcast'")
    wait_until(lambda: len(segments(box, stream["id"]) - kept) >= 1, 30, what="a new segment after the restart")


# ---------------------------------------------------------------- a graceful stop

def test_graceful_stop_ends_playlists(system):
    box = system
    stream = box.stream
    # The unit removes /run/onair on stop (RuntimeDirectoryPreserve=restart); a drop-in keeps it for
    # this check only, so the ended playlist can be read after the stop.
    dropin = box.path("/etc/systemd/system/onair.service.d/test-preserve.conf")
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text("[Service]\nRuntimeDirectoryPreserve=yes\n")
    box.sh("systemctl", "daemon-reload")
    try:
        pid = main_pid(box)
        cursor = box.cursor()
        with debug_pid1(box):
            box.sh("systemctl", "stop", "onair", timeout=60)
        show = box.show("onair", "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        print(f"\n[systemctl show after stop] {show}")
        assert show["ActiveState"] == "inactive" and show["Result"] == "success"
        assert show["ExecMainStatus"] == "0" and show["ExecMainCode"] == "1", show  # CLD_EXITED, status 0
        got = notifications(box, cursor, pid)
        assert any("STOPPING=1" in f.split(", ") for _, f in got), got
        playlists = box.sh("sh", "-c", f"ls /run/onair/hls/{stream['id']}/*.m3u8").stdout.split()
        media = [p for p in playlists if "EXT-X-TARGETDURATION" in box.read(p)]
        assert media, playlists
        for p in media:
            assert "#EXT-X-ENDLIST" in box.read(p), f"{p} not ended on stop"
    finally:
        stop_publisher(getattr(box, "republisher", None))
        dropin.unlink()
        dropin.parent.rmdir()
        box.sh("systemctl", "daemon-reload")
    box.sh("systemctl", "start", "onair", timeout=60)
    assert box.show("onair", "ActiveState")["ActiveState"] == "active"


# ---------------------------------------------------------------- purge

def test_purge_removes_config_token_certificate_database(system):
    box = system
    r = box.sh("apt-get", "purge", "-y", "-q", "onair", timeout=300)
    print("\n[purge]\n" + "\n".join(l for l in r.stdout.splitlines()[-6:] if "Reading database" not in l))
    for gone in ("/usr/bin/onair", "/etc/onair", "/var/lib/onair", "/lib/systemd/system/onair.service",
                 "/etc/systemd/system/multi-user.target.wants/onair.service"):
        assert not box.path(gone).exists() and not box.path(gone).is_symlink(), f"{gone} left after purge"
    assert box.show("onair", "LoadState")["LoadState"] == "not-found"
    assert box.sh("sh", "-c", "test ! -e /run/onair").returncode == 0
    assert box.sh("getent", "passwd", "onair", check=False).returncode == 0, "the onair user is kept on purge"
