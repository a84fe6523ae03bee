"""What both package test files use: running a command, and the .deb under another version."""
import re
import subprocess
import tempfile
from pathlib import Path


def run(*cmd, check=True, timeout=120, **kw):
    return subprocess.run(cmd, check=check, timeout=timeout, capture_output=True, text=True, **kw)


def repack(deb: Path, version: str, out_dir: Path) -> Path:
    """`deb` with another Version (dpkg-deb -R, the control file's Version, dpkg-deb -b), written
    to out_dir: a newer or an older release of the same build, for dpkg's upgrade path."""
    with tempfile.TemporaryDirectory() as d:
        tree = Path(d, "tree")
        run("dpkg-deb", "-R", str(deb), str(tree))
        control = tree / "DEBIAN/control"
        control.write_text(re.sub(r"^Version: .*$", f"Version: {version}", control.read_text(), flags=re.M))
        out = out_dir / f"onair_{version}_amd64.deb"
        run("dpkg-deb", "--root-owner-group", "-b", str(tree), str(out))
    return out
