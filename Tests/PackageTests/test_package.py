"""The Debian package: lintian, contents, the systemd unit, install, the installed binary under a
stand-in systemd notify socket, the watchdog, upgrade and purge.

Runs as root on a Debian 12 machine where systemd is installed but need not be running (CI
containers): `make package-test` builds dist/onair_VERSION_amd64.deb and passes its path in
ONAIR_DEB; ONAIR_DEBUG is the debug build used for the watchdog fault injection.

The tests run in file order and share one installation: install, inspect, run, upgrade, purge.
This installs and purges the onair package on the machine it runs on.
"""
import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from debs import repack, run

REPO = Path(__file__).resolve().parents[2]
DEB = Path(os.environ.get("ONAIR_DEB", ""))
DEBUG_BINARY = Path(os.environ.get("ONAIR_DEBUG") or REPO / ".build/debug/onair")
CONF = Path("/etc/onair/onair.yaml")
TOKENS = Path("/etc/onair/access-tokens.yaml")
TLS = Path("/etc/onair/tls")
STATE = Path("/var/lib/onair")
UNIT_PATHS = [Path("/lib/systemd/system/onair.service"), Path("/usr/lib/systemd/system/onair.service")]
EXPOSURE_LIMIT = 2.0
WATCHDOG_USEC = 2_000_000

# Everything the package may contain; anything else is a stray file.
EXPECTED_FILES = {
    "usr/bin/onair",
    "etc/onair/onair.yaml",
    "usr/lib/sysusers.d/onair.conf",
    "usr/share/doc/onair/README.md.gz",
    "usr/share/doc/onair/changelog.Debian.gz",
    "usr/share/doc/onair/copyright",
    "usr/share/man/man1/onair.1.gz",
    "usr/share/lintian/overrides/onair",
}
UNIT_FILES = {"lib/systemd/system/onair.service", "usr/lib/systemd/system/onair.service"}


def deb_version():
    return run("dpkg-deb", "-f", str(DEB), "Version").stdout.strip()


def unit_path():
    for p in UNIT_PATHS:
        if p.exists():
            return p
    pytest.fail("onair.service is not installed in /lib/systemd/system or /usr/lib/systemd/system")


def as_onair(*cmd):
    """The command as user and group onair (with its supplementary groups), like User=/Group=."""
    return ["setpriv", "--reuid", "onair", "--regid", "onair", "--init-groups", "--", *cmd]


def mode_owner(path):
    st = path.stat()
    import grp
    import pwd
    return oct(st.st_mode & 0o7777), pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def preconditions():
    assert os.geteuid() == 0, "the package tests install the .deb: run them as root (make package-test)"
    assert DEB.is_file(), f"ONAIR_DEB={DEB!s} is not a file: run `make package-test`, which builds it"
    for tool in ("dpkg-deb", "lintian", "systemd-analyze", "setpriv", "openssl"):
        assert shutil.which(tool), f"{tool} is required (make package-test installs it)"
    # Start from a machine without onair (a previous run may have been interrupted).
    run("dpkg", "--purge", "onair", check=False)
    yield


# ---------------------------------------------------------------- the .deb file itself

def test_package_size():
    size = DEB.stat().st_size
    installed_kib = int(run("dpkg-deb", "-f", str(DEB), "Installed-Size").stdout)
    print(f"\n[figure] package {DEB.name}: {size / 1e6:.1f} MB (.deb), installed size {installed_kib / 1024:.1f} MiB")
    assert size < 60e6


def test_lintian_clean():
    cmd = ["lintian", "--no-tag-display-limit", "--display-info", "--suppress-tags", "initial-upload-closes-no-bugs",
           str(DEB)]
    r = run(*cmd, check=False, timeout=600)
    print("\n[lintian]\n" + (r.stdout or "(no tags)"))
    tags = [l for l in r.stdout.splitlines() if re.match(r"^[EW]: ", l)]
    assert not tags, f"lintian errors/warnings: {tags}"
    assert r.returncode == 0, r.stderr


def test_contents():
    listing = run("dpkg-deb", "-c", str(DEB)).stdout.splitlines()
    entries = {}
    for line in listing:
        perms, owner, _size, _date, _time, name = line.split(None, 5)
        name = name.split(" -> ")[0].removeprefix("./")
        entries[name] = (perms, owner)
    files = {n for n, (p, _) in entries.items() if not p.startswith("d")}
    units = files & UNIT_FILES
    assert len(units) == 1, f"exactly one onair.service expected, found {units}"
    stray = files - EXPECTED_FILES - UNIT_FILES - {"usr/share/lintian/overrides/onair"}
    assert not stray, f"stray files in the package: {sorted(stray)}"
    missing = EXPECTED_FILES - files
    assert not missing, f"missing from the package: {sorted(missing)}"
    assert not [n for n in entries if n.startswith("usr/local")]
    assert all(owner == "root/root" for _, owner in entries.values()), entries
    assert entries["usr/bin/onair"][0] == "-rwxr-xr-x"
    assert entries[units.pop()][0] == "-rw-r--r--"
    # Shipped 0644 root:root; postinst's dpkg-statoverride makes it root:onair 0640 on the box.
    assert entries["etc/onair/onair.yaml"][0] == "-rw-r--r--"


def test_control_fields():
    info = run("dpkg-deb", "-I", str(DEB)).stdout
    print("\n[dpkg-deb -I]\n" + info)
    fields = {k: run("dpkg-deb", "-f", str(DEB), k).stdout.strip()
              for k in ("Package", "Version", "Architecture", "Depends", "Maintainer", "Description", "Section",
                        "Priority", "Installed-Size")}
    assert fields["Package"] == "onair"
    assert fields["Architecture"] == "amd64"
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d+", fields["Version"])
    assert re.search(r"<[^@>]+@[^>]+>", fields["Maintainer"])
    assert "\n" in fields["Description"], "an extended description is required"
    depends = fields["Depends"]
    for dep in ("libc6", "openssl", "ffmpeg", "systemd | systemd-sysusers"):
        assert dep in depends, f"Depends lacks {dep}: {depends}"
    assert "libswift" not in depends and "swiftlang" not in depends, "the Swift stdlib must be linked statically"
    assert_installable_on_ubuntu_2204(depends)
    for name in ("postinst", "postrm", "prerm", "conffiles", "md5sums"):
        assert re.search(rf"^\s+\d+ bytes,\s+\d+ lines?\s+\*?\s*{name}\b", info, re.M), f"control member {name} missing"
    with tempfile.TemporaryDirectory() as d:
        run("dpkg-deb", "-e", str(DEB), d)
        conffiles = Path(d, "conffiles").read_text().split()
        assert conffiles == ["/etc/onair/onair.yaml"], conffiles


# Ubuntu 22.04's release pocket (24.04 ships newer of each): no Ubuntu archive is reachable from here to
# install the package into, so its dependencies are held to these versions instead.
UBUNTU_2204 = {
    "libc6": "2.35-0ubuntu3", "libsqlite3-0": "3.37.2-2", "libsystemd0": "249.11-0ubuntu3",
    "zlib1g": "1:1.2.11.dfsg-2ubuntu9", "libstdc++6": "12-20220319-1ubuntu1", "libgcc-s1": "12-20220319-1ubuntu1",
    "openssl": "3.0.2-0ubuntu1", "ffmpeg": "7:4.4.1-3ubuntu5", "ca-certificates": "20211016", "systemd": "249.11-0ubuntu3",
}


def assert_installable_on_ubuntu_2204(depends: str):
    for clause in (c.strip() for c in depends.split(",")):
        alternatives = [a.strip() for a in clause.split("|")]
        ok = []
        for alt in alternatives:
            m = re.fullmatch(r"([a-z0-9.+-]+)(?: \((>=|>>|=|<=|<<) ([^)]+)\))?", alt)
            assert m, f"cannot read the dependency {alt!r}"
            name, op, version = m.groups()
            if name not in UBUNTU_2204:
                continue
            ok.append(op is None or run("dpkg", "--compare-versions", UBUNTU_2204[name], op, version,
                                        check=False).returncode == 0)
        assert any(ok), f"{clause!r}: not satisfiable on Ubuntu 22.04 (versions known there: {UBUNTU_2204})"


def test_binary_and_config_in_package():
    with tempfile.TemporaryDirectory() as d:
        run("dpkg-deb", "-x", str(DEB), d)
        binary = Path(d, "usr/bin/onair")
        dynamic = run("readelf", "-d", str(binary)).stdout
        needed = re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic)
        assert not [n for n in needed if "swift" in n.lower()], needed
        assert re.search(r"BIND_NOW|FLAGS_1\).*\bNOW\b", dynamic), "no BIND_NOW (-z now)"
        sections = run("readelf", "-S", "-W", str(binary)).stdout
        assert ".debug_info" not in sections, "the binary should be stripped (symbols go to onair-dbgsym)"
        # No writable+executable segment (MemoryDenyWriteExecute=yes) and a non-executable stack.
        headers = run("readelf", "-l", "-W", str(binary)).stdout
        segments = re.findall(r"^\s*(LOAD|GNU_STACK)(?:\s+0x[0-9a-f]+){5}\s+([RWE ]+?)\s+0x", headers, re.M)
        assert any(kind == "GNU_STACK" for kind, _ in segments), headers
        for kind, flags in segments:
            assert not ("W" in flags and "E" in flags), f"{kind} segment is writable and executable: {flags}"
        version = run(str(binary), "version").stdout.strip()
        assert version == "onair " + deb_version().split("-")[0], (version, deb_version())
        conf = Path(d, "etc/onair/onair.yaml").read_text()
        assert re.search(r"^access_tokens_file: /etc/onair/access-tokens.yaml$", conf, re.M)
        for line in ('listen: "0.0.0.0:1935"', 'listen: "0.0.0.0:443"', "directory: /run/onair/hls",
                     "database: /var/lib/onair/onair.sqlite", "certificate: /etc/onair/tls/onair.crt",
                     "key: /etc/onair/tls/onair.key"):
            assert line in conf, f"production default missing: {line}"


# ---------------------------------------------------------------- install

@pytest.fixture(scope="module")
def installed():
    r = run("dpkg", "-i", str(DEB), check=False, timeout=300)
    print("\n[dpkg -i]\n" + r.stdout + r.stderr)
    assert r.returncode == 0, f"dpkg -i failed:\n{r.stdout}\n{r.stderr}"
    assert "/etc/onair/access-tokens.yaml" in r.stdout, "postinst should say where the API token is"
    assert "/etc/onair/tls/onair.crt" in r.stdout, "postinst should say where the certificate is"
    return r


def test_install_creates_user_and_files(installed):
    import grp
    import pwd
    user = pwd.getpwnam("onair")
    group = grp.getgrnam("onair")
    assert user.pw_uid < 1000 and user.pw_gid == group.gr_gid, "onair must be a system user with its own group"
    assert user.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
    assert Path("/usr/bin/onair").stat().st_mode & 0o777 == 0o755
    assert mode_owner(CONF) == ("0o640", "root", "onair")
    assert mode_owner(TOKENS) == ("0o640", "root", "onair")
    assert mode_owner(TLS) == ("0o750", "root", "onair")
    assert mode_owner(TLS / "onair.key") == ("0o640", "root", "onair")
    assert mode_owner(TLS / "onair.crt") == ("0o644", "root", "root")
    # The unit is enabled offline (deb-systemd-helper) even though systemd is not running here.
    assert Path("/etc/systemd/system/multi-user.target.wants/onair.service").is_symlink()


def test_generated_token(installed):
    text = TOKENS.read_text()
    m = re.fullmatch(r"- id: (\S+)\n  secret: ([0-9a-f]+)\n  permissions: \[video:write, system:write\]\n", text)
    assert m, f"unexpected token file format:\n{text}"
    assert len(m.group(2)) >= 32


def test_generated_certificate(installed):
    crt = run("openssl", "x509", "-in", str(TLS / "onair.crt"), "-noout", "-text").stdout
    host = os.uname().nodename
    assert f"DNS:{host}" in crt and "IP Address:127.0.0.1" in crt, crt
    # The key belongs to the certificate.
    pub_crt = run("openssl", "x509", "-in", str(TLS / "onair.crt"), "-noout", "-pubkey").stdout
    pub_key = run("openssl", "pkey", "-in", str(TLS / "onair.key"), "-pubout").stdout
    assert pub_crt == pub_key


def test_check_config_installed(installed):
    r = run("/usr/bin/onair", "check-config", "--config", str(CONF), check=False)
    assert r.returncode == 0, r.stderr
    # The service user can read everything the config points at.
    r = run(*as_onair("/usr/bin/onair", "check-config", "--config", str(CONF)), check=False)
    assert r.returncode == 0, r.stderr
    # And a bad config is EX_CONFIG (78), which the unit's RestartPreventExitStatus relies on.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as bad:
        bad.write("rtmp:\n  no_such_key: 1\n")
        bad.flush()
        assert run("/usr/bin/onair", "check-config", "--config", bad.name, check=False).returncode == 78


def test_systemd_analyze_verify(installed):
    r = run("systemd-analyze", "verify", str(unit_path()), check=False)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        f"systemd-analyze verify must print nothing:\n{r.stdout}{r.stderr}"


def test_systemd_analyze_security(installed):
    r = run("systemd-analyze", "security", "--offline=yes", str(unit_path()), check=False)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    exposure = float(m.group(1))
    print(f"\n[figure] systemd-analyze security exposure: {exposure} (limit {EXPOSURE_LIMIT})")
    assert exposure <= EXPOSURE_LIMIT, r.stdout


def test_unit_settings(installed):
    text = unit_path().read_text()
    settings = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            k, v = line.split("=", 1)
            settings.setdefault(k.strip(), []).append(v.strip())
    expect = {
        "Type": "notify", "NotifyAccess": "main", "User": "onair", "Group": "onair",
        "ExecStart": "/usr/bin/onair serve --config /etc/onair/onair.yaml",
        "ExecReload": "/bin/kill -HUP $MAINPID", "WatchdogSec": "30", "Restart": "on-failure",
        "RestartPreventExitStatus": "78", "TimeoutStopSec": "30", "RuntimeDirectory": "onair",
        "RuntimeDirectoryPreserve": "restart", "StateDirectory": "onair", "ConfigurationDirectory": "onair",
        "AmbientCapabilities": "CAP_NET_BIND_SERVICE", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
        "MemoryDenyWriteExecute": "yes", "UMask": "0027", "LimitNICE": "-4",
    }
    for k, v in expect.items():
        assert settings.get(k) == [v], f"{k}={settings.get(k)}, expected {v}"


# ---------------------------------------------------------------- the installed binary under a notify socket

class NotifySocket:
    """A stand-in for systemd's notify socket: an abstract AF_UNIX datagram socket with SO_PASSCRED,
    so every datagram comes with the sender's pid (systemd's NotifyAccess=main check)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.name = f"@onair-package-test-{os.getpid()}-{time.monotonic_ns()}"
        self.sock.bind("\0" + self.name[1:])
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.messages = []  # (monotonic time, sender pid, {key: value})

    def receive(self, timeout):
        """Reads the datagrams that arrive within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if not select.select([self.sock], [], [], left)[0]:
                return
            data, anc, _flags, _addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            pid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid, _uid, _gid = struct.unpack("iII", payload[:12])
            fields = dict(l.split("=", 1) for l in data.decode().split("\n") if "=" in l)
            self.messages.append((time.monotonic(), pid, fields))

    def wait_for(self, predicate, timeout, start=0):
        """Index of the first message at or after `start` for which predicate(fields) holds, or None."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(start, len(self.messages)):
                if predicate(self.messages[i][2]):
                    return i
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.receive(min(left, 0.1))

    def close(self):
        self.sock.close()


def local_config(workdir: Path, owner="onair"):
    """The installed config with loopback ports and temporary HLS and database directories."""
    rtmp, https, metrics = free_port(), free_port(), free_port()
    text = CONF.read_text()
    text = text.replace('listen: "0.0.0.0:1935"', f'listen: "127.0.0.1:{rtmp}"')
    text = text.replace('listen: "0.0.0.0:443"', f'listen: "127.0.0.1:{https}"')
    # Not 9464: test_booted_systemd.py's service, in a container on this network, may hold it.
    text = text.replace('listen: "127.0.0.1:9464"', f'listen: "127.0.0.1:{metrics}"')
    text = text.replace("directory: /run/onair/hls", f"directory: {workdir}/hls")
    text = text.replace("database: /var/lib/onair/onair.sqlite", f"database: {workdir}/state/onair.sqlite")
    assert str(rtmp) in text and str(https) in text and str(metrics) in text and str(workdir) in text
    path = workdir / "onair.yaml"
    path.write_text(text)
    if owner:
        shutil.chown(workdir, owner, owner)
        shutil.chown(path, owner, owner)
    return path, rtmp, https


def start(cmd, notify, env_extra=None, watchdog_pid=True):
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    env.update(env_extra or {})
    # WATCHDOG_PID must be the daemon's own pid: the shell exports its pid, then execs onair in place
    # (setpriv execs too). Without WATCHDOG_PID, sd_watchdog_enabled() accepts any pid.
    wrapped = ["sh", "-c", 'export WATCHDOG_PID=$$; exec "$@"' if watchdog_pid else 'exec "$@"', "sh", *cmd]
    t0 = time.monotonic()
    log = tempfile.TemporaryFile("w+")  # a file, not a pipe: a full pipe would stall the daemon
    proc = subprocess.Popen(wrapped, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log = log
    return proc, t0


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    proc.log.seek(0)
    return proc.log.read()


def pings_between(notify, pid, t_from, t_to):
    return [t for t, p, f in notify.messages if f.get("WATCHDOG") == "1" and p == pid and t_from <= t <= t_to]


def test_notify_protocol_as_service_user(installed):
    """The installed binary as user onair: READY, STATUS, WATCHDOG, RELOADING/READY on SIGHUP,
    STOPPING and exit 0 on SIGTERM, all from the main pid (NotifyAccess=main)."""
    notify = NotifySocket()
    workdir = Path(tempfile.mkdtemp(prefix="onair-pkg-"))
    proc = None
    try:
        config, rtmp, https = local_config(workdir)
        proc, t0 = start(as_onair("/usr/bin/onair", "serve", "--config", str(config)), notify)
        ready = notify.wait_for(lambda f: f.get("READY") == "1", timeout=30)
        if ready is None:
            out = stop(proc)
            pytest.fail(f"no READY=1 within 30 s (messages: {[m[2] for m in notify.messages]}); output:\n{out}")
        t_ready, pid, fields = notify.messages[ready]
        print(f"\n[figure] exec -> READY=1: {(t_ready - t0) * 1000:.0f} ms")
        assert pid == proc.pid, f"READY=1 came from pid {pid}, not the main pid {proc.pid}"
        # READY means every listener is bound.
        for port in (rtmp, https):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

        # Watchdog pings at about WATCHDOG_USEC/2 = 1 s.
        notify.receive(4.6)
        pings = pings_between(notify, proc.pid, t_ready, time.monotonic())
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        print(f"[figure] watchdog pings in 4.6 s: {len(pings)}, gaps {[round(g, 2) for g in gaps]}")
        assert len(pings) >= 3, f"expected WATCHDOG=1 about every second, got {len(pings)} in 4.6 s"
        assert max(gaps) < WATCHDOG_USEC / 1e6 * 0.8, f"watchdog gaps too long: {gaps}"
        assert min(gaps) > 0.2, f"watchdog pings too frequent (a timer, not WATCHDOG_USEC/2?): {gaps}"
        statuses = [f["STATUS"] for _, _, f in notify.messages if "STATUS" in f]
        print(f"[notify] STATUS lines: {statuses}")
        assert statuses, "no STATUS= lines"

        # SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, system-wide), then READY=1.
        n = len(notify.messages)
        before = time.monotonic_ns() // 1000
        proc.send_signal(signal.SIGHUP)
        reloading = notify.wait_for(lambda f: f.get("RELOADING") == "1", timeout=10, start=n)
        assert reloading is not None, f"no RELOADING=1 after SIGHUP: {[m[2] for m in notify.messages[n:]]}"
        fields = notify.messages[reloading][2]
        assert "MONOTONIC_USEC" in fields, f"RELOADING=1 without MONOTONIC_USEC: {fields}"
        usec = int(fields["MONOTONIC_USEC"])
        assert before - 1_000_000 <= usec <= time.monotonic_ns() // 1000 + 1_000_000, (before, usec)
        assert notify.messages[reloading][1] == proc.pid
        again = notify.wait_for(lambda f: f.get("READY") == "1", timeout=10, start=reloading + 1)
        assert again is not None, f"no READY=1 after RELOADING=1: {[m[2] for m in notify.messages[reloading:]]}"
        assert proc.poll() is None, "SIGHUP must not stop the server"

        # SIGTERM: STOPPING=1 and exit code 0.
        n = len(notify.messages)
        proc.send_signal(signal.SIGTERM)
        stopping = notify.wait_for(lambda f: f.get("STOPPING") == "1", timeout=30, start=n)
        assert stopping is not None, f"no STOPPING=1 after SIGTERM: {[m[2] for m in notify.messages[n:]]}"
        assert proc.wait(timeout=30) == 0
        proc = None
    finally:
        out = stop(proc) if proc else ""
        if out:
            print(out[-4000:])
        notify.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_watchdog_stops_when_an_event_loop_blocks(installed):
    """Debug build with ONAIR_FAULT_BLOCK_EVENT_LOOP_AFTER: pings stop while the process lives on."""
    assert DEBUG_BINARY.is_file(), f"debug build {DEBUG_BINARY} missing (swift build)"
    block_after = 3.0
    notify = NotifySocket()
    workdir = Path(tempfile.mkdtemp(prefix="onair-pkg-"))
    proc = None
    try:
        config, _, _ = local_config(workdir, owner=None)
        proc, t0 = start([str(DEBUG_BINARY), "serve", "--config", str(config)], notify,
                         {"ONAIR_FAULT_BLOCK_EVENT_LOOP_AFTER": str(block_after)})
        ready = notify.wait_for(lambda f: f.get("READY") == "1", timeout=60)
        assert ready is not None, f"no READY=1 from the debug build: {[m[2] for m in notify.messages]}"
        notify.receive(max(0.0, t0 + block_after - time.monotonic()))
        before = pings_between(notify, proc.pid, t0, t0 + block_after)
        assert before, "no WATCHDOG=1 before the event loop was blocked"
        # Leave one ping interval for a check that was already under way, then expect silence.
        settle = t0 + block_after + WATCHDOG_USEC / 1e6
        notify.receive(settle + 5.0 - time.monotonic())
        after = pings_between(notify, proc.pid, settle, time.monotonic())
        print(f"\n[watchdog] pings before the block: {len(before)}, in the 5 s after it: {len(after)}")
        assert proc.poll() is None, "the process should still be running (only an event loop is blocked)"
        assert not after, f"WATCHDOG=1 still sent while an event loop is blocked: {len(after)} pings"
    finally:
        out = stop(proc) if proc else ""
        if out and os.environ.get("ONAIR_TEST_VERBOSE"):
            print(out[-4000:])
        notify.close()
        shutil.rmtree(workdir, ignore_errors=True)


def syscall_group(name, seen=None):
    """The syscalls of a systemd syscall group, nested groups expanded."""
    out = run("systemd-analyze", "syscall-filter", name).stdout.splitlines()[1:]
    names = set()
    for line in out:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        names |= syscall_group(entry) if entry.startswith("@") else {entry}
    return names


# Syscalls outside the unit's SystemCallFilter= that onair makes and survives: systemd answers them
# with EPERM (SystemCallErrorNumber=EPERM), and the test injects exactly that error.
# (setpriority is allowed again for the image decoder's nice and libdispatch's worker threads. Under
# the unit's LimitNICE=-4 a worker's -2 and -4 succeed; here, with no RLIMIT_NICE, they fail with
# EACCES and are ignored. test_booted_systemd.py reads the journal under a real systemd.)
# set_mempolicy: made by ffmpeg (its libraries' NUMA-aware allocator) when the image decoder runs it;
# with EPERM injected the thumbnail below is made all the same.
TOLERATED_EPERM = {"set_mempolicy"}


def test_sandbox_allows_what_onair_does(installed):
    """The unit's SystemCallFilter= and MemoryDenyWriteExecute= against what the installed binary
    really does (start, watchdog, a thumbnail of a live stream made by its prlimit and ffmpeg
    children, reload, stop) under strace -f: systemd is not running here, so this is how we know the
    sandbox does not break Swift, NIO, BoringSSL or the image decoder."""
    assert shutil.which("strace"), "strace is required (make package-test installs it)"
    assert shutil.which("ffmpeg"), "ffmpeg is required (the package depends on it)"
    allowed = (syscall_group("@system-service") - syscall_group("@privileged") - syscall_group("@resources")
               | {"setrlimit", "prlimit64", "setpriority"})  # the unit's SystemCallFilter=setrlimit prlimit64 setpriority
    notify = NotifySocket()
    workdir = Path(tempfile.mkdtemp(prefix="onair-pkg-"))
    trace = workdir / "strace.out"
    proc = publisher = onair_pid = None
    try:
        config, rtmp, https = local_config(workdir)
        shutil.chown(workdir, "onair", "onair")
        inject = ["-e", f"inject={','.join(sorted(TOLERATED_EPERM))}:error=EPERM"] if TOLERATED_EPERM else []
        proc, _ = start(as_onair("strace", "-f", "-qq", *inject, "-o", str(trace), "/usr/bin/onair", "serve",
                                 "--config", str(config)), notify, watchdog_pid=False)
        ready = notify.wait_for(lambda f: f.get("READY") == "1", timeout=60)
        assert ready is not None, f"no READY=1 under strace: {[m[2] for m in notify.messages]}"
        notify.receive(2.5)
        onair_pid = notify.messages[ready][1]
        # A live stream's thumbnail: prlimit and ffmpeg run as the daemon's children, under its filter.
        stream = json.loads(run(*as_onair("/usr/bin/onair", "streams", "create", "--json", "--config", str(config))).stdout)
        publisher = subprocess.Popen(["ffmpeg", "-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                                      "-t", "30", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p", "-f", "flv",
                                      f"rtmp://127.0.0.1:{rtmp}/app/{stream['stream_key']}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        import requests
        url = f"https://127.0.0.1:{https}/{stream['playback_ids'][0]['id']}/thumbnail.jpg"
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            answer = requests.get(url, verify=str(TLS / "onair.crt"), timeout=30)
            if answer.status_code == 200:
                break
            time.sleep(0.5)
        if answer is None or answer.status_code != 200:
            publisher.kill()
            proc.log.seek(0)
            pytest.fail(f"{url}: {answer.status_code if answer is not None else None} {answer.text[:300] if answer is not None else ''}\n"
                        f"publisher: {publisher.communicate()[1][-2000:]}\nserver log:\n{proc.log.read()[-4000:]}")
        assert answer.headers["Content-Type"] == "image/jpeg" and answer.content[:3] == b"\xff\xd8\xff", answer.content[:16]
        publisher.kill()
        publisher.wait()
        publisher = None
        os.kill(onair_pid, signal.SIGHUP)
        notify.wait_for(lambda f: f.get("RELOADING") == "1", timeout=10, start=ready + 1)
        notify.receive(1.0)
        os.kill(onair_pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        proc = None
        used, wx = set(), []
        for line in trace.read_text().splitlines():
            m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z_][a-z0-9_]*)[( ]", line)
            if not m or line.split(None, 1)[1].startswith(("+++", "---")):
                continue
            used.add(m.group(1))
            if m.group(1) == "mmap" and "PROT_WRITE" in line and "PROT_EXEC" in line:
                wx.append(line)
            if m.group(1) in ("mprotect", "pkey_mprotect") and "PROT_EXEC" in line:
                wx.append(line)
        print(f"\n[sandbox] {len(used)} distinct syscalls: {' '.join(sorted(used))}")
        blocked = used - allowed
        print(f"[sandbox] outside SystemCallFilter= (EPERM injected, tolerated): {sorted(blocked & TOLERATED_EPERM)}")
        assert not (blocked - TOLERATED_EPERM), f"blocked by SystemCallFilter=: {sorted(blocked - TOLERATED_EPERM)}"
        assert not wx, f"MemoryDenyWriteExecute=yes would refuse: {wx[:5]}"
    finally:
        if publisher:
            publisher.kill()
        if proc:
            stop(proc)
            if onair_pid:  # strace, once stopped, leaves its tracee running
                with contextlib.suppress(ProcessLookupError):
                    os.kill(onair_pid, signal.SIGKILL)
        notify.close()
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- upgrade and purge

def test_upgrade_keeps_config_tokens_database_then_purge(installed):
    tokens_before = TOKENS.read_bytes()
    key_before = (TLS / "onair.key").read_bytes()
    crt_before = (TLS / "onair.crt").read_bytes()
    with CONF.open("a") as f:
        f.write("# a local edit that an upgrade must keep\n")
    conf_before = CONF.read_bytes()
    created = run("/usr/bin/onair", "streams", "create", "--config", str(CONF), "--json")
    stream_id = json.loads(created.stdout)["id"]
    assert (STATE / "onair.sqlite").exists()
    # Root ran the CLI, yet the service can still write its database.
    for path in [STATE, *STATE.glob("onair.sqlite*")]:
        assert (path.owner(), path.group()) == ("onair", "onair"), f"{path} is {path.owner()}:{path.group()}"

    with tempfile.TemporaryDirectory() as d:
        upstream, revision = deb_version().rsplit("-", 1)
        newer = repack(DEB, f"{upstream}-{int(revision) + 1}", Path(d))
        r = run("dpkg", "-i", str(newer), check=False, timeout=300)
        print("\n[upgrade]\n" + r.stdout + r.stderr)
        assert r.returncode == 0, r.stdout + r.stderr
    assert run("dpkg-query", "-W", "-f", "${Version}", "onair").stdout == f"{upstream}-{int(revision) + 1}"
    assert "created API token" not in r.stdout and "created a self-signed" not in r.stdout
    assert TOKENS.read_bytes() == tokens_before
    assert (TLS / "onair.key").read_bytes() == key_before and (TLS / "onair.crt").read_bytes() == crt_before
    assert CONF.read_bytes() == conf_before
    assert mode_owner(CONF) == ("0o640", "root", "onair")
    assert mode_owner(TOKENS) == ("0o640", "root", "onair")
    listed = run("/usr/bin/onair", "streams", "list", "--config", str(CONF), "--json").stdout
    assert stream_id in listed, f"stream {stream_id} lost in the upgrade: {listed}"

    # Purge: package files, conffile, generated credentials, database and statoverride go; the
    # onair account stays (Debian practice: files elsewhere may still carry its uid).
    r = run("dpkg", "--purge", "onair", check=False, timeout=300)
    print("[purge]\n" + r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    for gone in (Path("/usr/bin/onair"), CONF, TOKENS, TLS, STATE, Path("/etc/onair"), *UNIT_PATHS,
                 Path("/etc/systemd/system/multi-user.target.wants/onair.service")):
        assert not gone.exists() and not gone.is_symlink(), f"{gone} left after purge"
    assert "onair.yaml" not in run("dpkg-statoverride", "--list").stdout
    assert run("getent", "passwd", "onair", check=False).returncode == 0, "the onair user is kept on purge"
