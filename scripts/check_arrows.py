#!/usr/bin/env python3
"""Fails when a Swift file uses a type from a folder its layer may not use (docs/architecture.md, "Arrows").

Appliance and Media are one module each, so the compiler cannot refuse a forbidden crossing; this
check does, in `make test`. It collects the types, protocols and free functions each folder declares,
then reads every file (comments and string literals removed) for identifiers declared in another
folder. A use is allowed when the arrow table lets the file's folder use the declaring folder.

    scripts/check_arrows.py [ROOT]      exit 0: no forbidden crossing; 1: the crossings, one a line
"""
import re
import sys
from pathlib import Path

# a -> [b...]: a may use b. Folders not listed may use nothing but themselves.
APPLIANCE = {
    "App": "*",
    "API": ["Store", "Streams", "Recording", "Signing", "Simulcast", "Domain", "Observability", "Support"],
    "Ingest": ["Streams", "Domain", "Observability", "Support"],
    "Packaging": ["Streams", "Domain", "Observability", "Support"],
    "Playback": ["Store", "Packaging", "Recording", "Signing", "Domain", "Observability", "Support"],
    "Images": ["Playback", "Packaging", "Recording", "Store", "Signing", "Domain", "Observability", "Support"],
    "Signing": ["Store", "Domain", "Support"],
    "Recording": ["Packaging", "Streams", "Store", "Domain", "Observability", "Support"],
    "Streams": ["Domain", "Observability", "Support"],
    "Webhooks": ["Store", "Streams", "Domain", "Observability", "Support"],
    "Simulcast": ["Streams", "Store", "Domain", "Observability", "Support"],
    "Store": ["Domain", "Support"],
    "Domain": [],
    "Config": [],
    "Systemd": [],
    "Observability": [],
    "Support": [],
}
MEDIA = {
    "Support": [],
    "Stream": ["Codecs", "Support"],  # MediaTrack carries a codec's configuration
    "AMF": ["Support"],
    "Codecs": ["Support"],
    "FLV": ["AMF", "Codecs", "Stream", "Support"],
    "RTMP": ["AMF", "Support"],
    "Containers": ["Stream", "Codecs", "Support"],
    "HLS": ["Containers", "Stream", "Codecs", "Support"],
    "Relay": ["RTMP", "FLV", "AMF", "Stream", "Codecs", "Support"],
}
DECLARATION = re.compile(r"^(?:(?:public|package|internal|private|fileprivate|final|indirect|@\w+)[ \t]+)*"
                         r"(?:struct|class|enum|protocol|actor|typealias|func)[ \t]+([A-Za-z_]\w*)", re.M)


def strip(text):
    """The code without comments and string literals (multi-line ones too)."""
    text = re.sub(r'"""[\s\S]*?"""', '""', text)
    text = re.sub(r"/\*[\s\S]*?\*/", "", text)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'#?"(?:\\.|[^"\\\n])*"#?', '""', text)


def top_level_names(text):
    """Names a file declares at its top level (indentation 0) for other files: not private ones."""
    return {m.group(1) for m in DECLARATION.finditer(text) if not re.match(r"(?:\S+[ \t]+)*(?:private|fileprivate)\b", m.group(0))}


def own_names(text):
    """Every name a file declares at any depth (a nested `Entry` shadows another folder's)."""
    return set(re.findall(r"\b(?:struct|class|enum|protocol|actor|typealias|func|case|let|var)[ \t]+([A-Za-z_]\w*)", text))


def check(module_root, arrows):
    folders = {}
    for path in sorted(module_root.rglob("*.swift")):
        folder = path.relative_to(module_root).parts[0]
        folders.setdefault(folder, []).append(path)
    unknown = sorted(set(folders) - set(arrows))
    problems = [f"{module_root}/{f}: a folder with no arrows in scripts/check_arrows.py" for f in unknown]
    owner = {}
    for folder, paths in folders.items():
        for path in paths:
            for name in top_level_names(strip(path.read_text())):
                owner.setdefault(name, folder)
    for folder, paths in folders.items():
        allowed = arrows.get(folder, [])
        for path in paths:
            code = strip(path.read_text())
            mine = own_names(code)
            for number, line in enumerate(code.split("\n"), 1):
                for name in set(re.findall(r"(?<![.\w])[A-Za-z_]\w*\b", line)):  # not a member after a dot
                    other = owner.get(name)
                    if other and other != folder and name not in mine and allowed != "*" and other not in allowed:
                        problems.append(f"{path}:{number}: {folder} uses {name} from {other}")
    return problems


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    problems = check(root / "Sources/Appliance", APPLIANCE) + check(root / "Sources/Media", MEDIA)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} forbidden crossing(s): see the arrows in docs/architecture.md", file=sys.stderr)
        return 1
    print("arrows: no forbidden crossing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
