"""A Debian 12 userland booted by systemd-nspawn, with a real systemd as its PID 1.

The machine the tests run on has no systemd as PID 1 (it is a container itself), but systemd-nspawn
boots one: `BootedSystem` makes the root with debootstrap, boots it, runs commands inside with
nsenter and powers it off. The container shares the host's network (no --private-network: apt inside
needs the mirror), so a service inside binds the host's ports. See README.md, "What the package is
tested for".
"""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

# What the root holds beyond minbase: systemd as init, D-Bus for systemctl, ss and findmnt for the
# checks, curl and CA certificates for apt and HTTPS.
INCLUDE = "systemd,systemd-sysv,dbus,procps,iproute2,curl,ca-certificates"
SUITE = "bookworm"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def host_mirror() -> str:
    """The host's own Debian mirror (deb822 sources, then the classic list), else deb.debian.org."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    classic = Path("/etc/apt/sources.list")
    if classic.exists():
        for line in classic.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    return "http://deb.debian.org/debian"


def make_root(root: Path, base: Path | None = None) -> float:
    """A fresh root at `root`: a copy of `base` (a pristine root made earlier, to save a minute while
    developing) or a new debootstrap. Returns the seconds it took."""
    t0 = time.monotonic()
    if root.exists():
        shutil.rmtree(root)
    if base:
        subprocess.run(["cp", "-a", str(base), str(root)], check=True, timeout=300)
    else:
        r = subprocess.run(["debootstrap", "--variant=minbase", f"--include={INCLUDE}", SUITE, str(root), host_mirror()],
                           capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"debootstrap failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return time.monotonic() - t0


class BootedSystem:
    def __init__(self, root: Path, binds_ro: dict[str, Path], log: Path):
        self.root = root
        self.binds_ro = binds_ro
        self.log_path = log
        self.nspawn: subprocess.Popen | None = None
        self.pid1: int | None = None

    # ------------------------------------------------------------ boot and power-off

    def boot(self, timeout: float = 90) -> float:
        """Boots the root and waits for `systemctl is-system-running --wait`. Returns the seconds."""
        t0 = time.monotonic()
        cmd = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--console=read-only",
               f"--directory={self.root}", f"--machine=onair-test-{os.getpid()}"]
        cmd += [f"--bind-ro={host}:{inside}" for inside, host in self.binds_ro.items()]
        cmd += ["--boot"]
        self.log = self.log_path.open("w")
        self.nspawn = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = t0 + timeout
        while self.pid1 is None:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.nspawn.returncode}:\n{self.console()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no systemd under systemd-nspawn {self.nspawn.pid} in {timeout} s")
            self.pid1 = self._find_pid1()
            time.sleep(0.1)
        # "running", or "degraded" when some unit of the minimal system failed; either way booted.
        while True:
            r = self.sh("systemctl", "is-system-running", "--wait", check=False, timeout=max(1, deadline - time.monotonic()))
            if r.stdout.strip() in ("running", "degraded"):
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                raise RuntimeError(f"the container did not finish booting: {r.stdout}{r.stderr}\n{self.console()}")
            time.sleep(0.5)

    def _find_pid1(self) -> int | None:
        """The child of systemd-nspawn whose comm is "systemd" (the container's PID 1, a host pid)."""
        for task in Path(f"/proc/{self.nspawn.pid}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                try:
                    if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        return int(child)
                except OSError:
                    pass
        return None

    def poweroff(self, timeout: float = 60) -> None:
        """`systemctl poweroff` inside, then waits for systemd-nspawn; past the timeout SIGKILL to the
        container's PID 1 (the kernel then kills everything in its PID namespace) and to nspawn."""
        if self.nspawn is None:
            return
        try:
            if self.nspawn.poll() is None and self.pid1:
                self.sh("systemctl", "poweroff", check=False, timeout=30)
            self.nspawn.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in (self.pid1, self.nspawn.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, TypeError):
                    pass
            self.nspawn.wait(timeout=30)
        finally:
            self.log.close()

    def console(self) -> str:
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""

    # ------------------------------------------------------------ inside

    def command(self, *cmd: str) -> list[str]:
        """`cmd` in all of the container's namespaces, with a clean environment."""
        return ["nsenter", "-t", str(self.pid1), "-a", "--", "env", "-i", f"PATH={PATH}", "LANG=C.UTF-8",
                "DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", *cmd]

    def sh(self, *cmd: str, check: bool = True, timeout: float = 120, input: str | None = None):
        r = subprocess.run(self.command(*cmd), capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {r.returncode} in the container:\n{r.stdout}\n{r.stderr}")
        return r

    def path(self, inside: str) -> Path:
        """The host's view of a path on the container's root file system (not /run, /tmp or /proc:
        those are the container's own mounts; read them with sh())."""
        return self.root / inside.lstrip("/")

    def read(self, inside: str) -> str:
        return self.sh("cat", inside).stdout

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.sh("systemctl", "show", unit, *[f"--property={p}" for p in props]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *matches: str, cursor: str | None = None) -> list[dict]:
        """Journal entries (journalctl -o json) for the matches, e.g. `_SYSTEMD_UNIT=onair.service`,
        after `cursor` if given. Flushes first: journald reads PID 1 and each service's stream apart."""
        self.sh("journalctl", "--sync")
        args = ["journalctl", "--no-pager", "-o", "json", *matches]
        if cursor:
            args.append(f"--after-cursor={cursor}")
        out = self.sh(*args).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def cursor(self) -> str:
        """The journal's newest cursor: later calls to journal() can start after it."""
        entries = self.sh("journalctl", "--no-pager", "-o", "json", "-n", "1").stdout.splitlines()
        return json.loads(entries[-1])["__CURSOR"] if entries else ""

    def monotonic_usec(self) -> int:
        """CLOCK_MONOTONIC, which the container shares with the host (no time namespace)."""
        return time.monotonic_ns() // 1000
