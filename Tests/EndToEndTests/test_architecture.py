"""The arrows of docs/architecture.md hold: scripts/check_arrows.py passes on the tree and fails on a crossing."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts/check_arrows.py"


def run(root):
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True, timeout=60)


def test_the_tree_has_no_forbidden_crossing():
    out = run(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_forbidden_crossing_fails_and_is_named(tmp_path):
    (tmp_path / "Sources/Appliance/Store").mkdir(parents=True)
    (tmp_path / "Sources/Appliance/API").mkdir(parents=True)
    (tmp_path / "Sources/Media/RTMP").mkdir(parents=True)
    (tmp_path / "Sources/Media/HLS").mkdir(parents=True)
    (tmp_path / "Sources/Appliance/Store/LiveStreamStore.swift").write_text(
        "struct LiveStreamStore {\n    // LiveStreamsController in a comment is no use\n    let s = \"LiveStreamsController\"\n"
        "    func f() -> LiveStreamsController? { nil }\n}\n")
    (tmp_path / "Sources/Appliance/API/LiveStreamsController.swift").write_text(
        "struct LiveStreamsController { let store: LiveStreamStore }\nprivate struct Helper {}\n")
    (tmp_path / "Sources/Media/HLS/Segmenter.swift").write_text("public struct Segmenter {}\n")
    (tmp_path / "Sources/Media/RTMP/Session.swift").write_text("struct Session { var s: Segmenter }\n")
    out = run(tmp_path)
    assert out.returncode == 1, out.stdout
    lines = out.stdout.splitlines()
    assert lines == [f"{tmp_path}/Sources/Appliance/Store/LiveStreamStore.swift:4: Store uses LiveStreamsController from API",
                     f"{tmp_path}/Sources/Media/RTMP/Session.swift:1: RTMP uses Segmenter from HLS"], out.stdout


def test_a_folder_without_arrows_is_an_error(tmp_path):
    (tmp_path / "Sources/Appliance/Elsewhere").mkdir(parents=True)
    (tmp_path / "Sources/Appliance/Elsewhere/Thing.swift").write_text("struct Thing {}\n")
    (tmp_path / "Sources/Media").mkdir(parents=True)
    out = run(tmp_path)
    assert out.returncode == 1 and "Elsewhere: a folder with no arrows" in out.stdout, out.stdout
