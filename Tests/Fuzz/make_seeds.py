#!/usr/bin/env python3
"""Writes the fuzz seed corpora to Tests/Fuzz/Seeds/<target>/ (committed; run again after changing a table).

Seeds come from the golden byte tables of the unit tests (every `[0x.., 0x.., ...]` literal of the
files listed per target), from a real ffmpeg clip (FLV tags, AVC and AAC sequence headers), from a
real publish session as the tests' RTMP client sends it, and from the shipped config files.

    python3 Tests/Fuzz/make_seeds.py
"""
import hashlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "Tests/Fuzz/Seeds"
sys.path.insert(0, str(ROOT / "Tests/EndToEndTests"))
from rtmp_client import amf0, chunked, read_flv  # noqa: E402

GOLDEN = {
    "chunk": ["Tests/MediaTests/RTMP/RTMPChunkDecoderTests.swift"],
    "handshake": ["Tests/MediaTests/RTMP/RTMPServerHandshakeTests.swift"],
    "session": ["Tests/MediaTests/RTMP/RTMPServerSessionTests.swift"],
    "amf0": ["Tests/MediaTests/AMF/AMF0Tests.swift"],
    "amf3": ["Tests/MediaTests/AMF/AMF3DecoderTests.swift"],
    "flv": [],
    "avc": ["Tests/MediaTests/Codecs/SequenceParameterSetTests.swift", "Tests/MediaTests/Codecs/AnnexBTests.swift",
            "Tests/MediaTests/FLV/FLVTagTests.swift"],
    "asc": ["Tests/MediaTests/Codecs/ADTSHeaderTests.swift"],
    "playlist": [],
    "config": [],
    "json": [],
    "boxes": [],
    "tsdemux": [],
    "fragments": [],
    "images": [],
    "relay": [],
}
# Targets whose first byte picks where the input is split into two reads.
SPLIT = {"chunk", "handshake", "session", "tsdemux", "relay"}
ARRAY = re.compile(r"\[\s*(0x[0-9A-Fa-f]{1,2}(?:\s*,\s*0x[0-9A-Fa-f]{1,2})+)\s*,?\s*\]")


def golden(files):
    for name in files:
        for match in ARRAY.finditer((ROOT / name).read_text()):
            yield bytes(int(value, 16) for value in re.findall(r"0x[0-9A-Fa-f]{1,2}", match.group(1)))


def tiny_clip(directory):
    path = Path(directory) / "tiny.flv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "1",
                    "-c:v", "libx264", "-g", "5", "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
                    "-f", "flv", str(path)], check=True)
    return read_flv(path)


def fragmented_mp4(directory):
    """A tiny fragmented MP4 (init section, then moof+mdat fragments) as ffmpeg writes CMAF."""
    path = Path(directory) / "tiny.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "1",
                    "-c:v", "libx264", "-g", "5", "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
                    "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", str(path)], check=True)
    return path.read_bytes()


def transport_stream(directory):
    """A tiny MPEG-TS (H.264 + ADTS AAC) as a recording's segment holds it."""
    path = Path(directory) / "tiny.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "1",
                    "-c:v", "libx264", "-g", "5", "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
                    "-f", "mpegts", str(path)], check=True)
    return path.read_bytes()


def publish_session(tags):
    """What a publisher sends after the handshake: connect, createStream, publish, metadata, media."""
    out = chunked(2, 1, 0, struct.pack(">I", 4096))  # Set Chunk Size 4096
    out += chunked(3, 20, 0, amf0("connect") + amf0(1) + amf0({"app": "app", "type": "nonprivate",
                                                               "tcUrl": "rtmp://127.0.0.1/app"}), chunk_size=4096)
    out += chunked(3, 20, 0, amf0("createStream") + amf0(2) + amf0(None), chunk_size=4096)
    out += chunked(4, 20, 1, amf0("publish") + amf0(3) + amf0(None) + amf0("key") + amf0("live"), chunk_size=4096)
    for kind, timestamp, payload in tags:
        out += chunked({8: 4, 9: 6, 18: 5}[kind], kind, 1, payload, timestamp=timestamp, chunk_size=4096)
    return out


def main():
    seeds = {target: [] for target in GOLDEN}
    for target, files in GOLDEN.items():
        seeds[target] += list(golden(files))
    with tempfile.TemporaryDirectory() as directory:
        tags = tiny_clip(directory)
        mp4 = fragmented_mp4(directory)
        ts = transport_stream(directory)
    video_header = next(p for k, _, p in tags if k == 9 and p[1] == 0)
    audio_header = next(p for k, _, p in tags if k == 8 and p[1] == 0)
    media = [t for t in tags if t[0] != 18][:24]
    c0c1 = b"\x03" + bytes(8) + bytes(range(256)) * 6
    c2 = bytes(1536)
    session = publish_session(media)
    seeds["handshake"] += [c0c1 + c2, c0c1[:700]]
    seeds["session"] += [c0c1 + c2 + session, c0c1 + c2 + publish_session([])]
    seeds["chunk"] += [session, publish_session([])]
    seeds["amf0"] += [amf0("connect") + amf0(1) + amf0({"app": "live", "tcUrl": "rtmp://h/live", "fpad": False}),
                      next(p for k, _, p in tags if k == 18)]
    seeds["flv"] += [b"".join(bytes([{9: 0, 8: 1, 18: 2}[k]]) + struct.pack(">IH", ts, len(p)) + p
                              for k, ts, p in tags if len(p) < 65536)]
    seeds["avc"] += [video_header[5:]]
    seeds["asc"] += [audio_header[2:]]
    seeds["playlist"] += [b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:40\n"
                          b"#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-PROGRAM-DATE-TIME:2026-11-29T10:00:00.000Z\n"
                          b"#EXTINF:2.000,\nk2-40.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.967,\nk2-41.ts\n#EXT-X-ENDLIST\n"]
    moof = mp4.find(b"moof") - 4
    seeds["boxes"] += [mp4, mp4[:moof], mp4[moof:]]
    seeds["tsdemux"] += [ts, ts[:188 * 12]]
    seeds["fragments"] += [struct.pack(">H", moof) + mp4[:moof] + mp4[moof:]]
    seeds["config"] += [(ROOT / "etc/onair/onair.yaml").read_bytes(), (ROOT / "etc/onair/onair.dev.yaml").read_bytes()]
    seeds["json"] += [b'{"playback_policy":["public"],"new_asset_settings":{"playback_policy":["public"]}}',
                      b'{"latency_mode":"low","reconnect_window":60,"passthrough":"x","max_continuous_duration":43200,'
                      b'"playback_policies":["public"],"test":false,"reconnect_slate_url":null}',
                      b'[1,2.5e-3,"\\u00e9\\ud83d\\ude00",true,false,null,{"a":{}}]']
    seeds["images"] += [b"thumbnail.jpg?time=12.5&width=640&height=360&fit_mode=pad&rotate=90&flip_v=true",
                        b"thumbnail.webp?latest=true&height=4096&fit_mode=smartcrop&width=1",
                        b"animated.gif?start=2&end=7&fps=30&width=640",
                        b"storyboard.vtt?asset_start_time=10&asset_end_time=3600&format=webp"]
    # What a server answers a publishing client: S0 S1 S2, then connect's and createStream's _result and
    # Publish.Start (transaction ids 1, 4, 5 as onair's client numbers them).
    s0s1s2 = b"\x03" + bytes(8) + bytes(range(256)) * 6 + bytes(1536)
    answers = chunked(2, 5, 0, struct.pack(">I", 2500000)) + chunked(2, 1, 0, struct.pack(">I", 4096))
    answers += chunked(3, 20, 0, amf0("_result") + amf0(1) + amf0({"fmsVer": "FMS/3,0,1,123"})
                       + amf0({"level": "status", "code": "NetConnection.Connect.Success"}), chunk_size=4096)
    answers += chunked(3, 20, 0, amf0("_result") + amf0(4) + amf0(None) + amf0(1), chunk_size=4096)
    answers += chunked(5, 20, 1, amf0("onStatus") + amf0(0) + amf0(None)
                       + amf0({"level": "status", "code": "NetStream.Publish.Start"}), chunk_size=4096)
    seeds["relay"] += [s0s1s2 + answers, b"rtmps://live-api-s.facebook.com:443/rtmp/ FB-123?s_bl=1",
                       b"rtmp://a.rtmp.youtube.com/live2/key"]
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    for target, items in seeds.items():
        folder = SEEDS / target
        folder.mkdir(parents=True)
        for item in items:
            data = (b"\x80" + item) if target in SPLIT else item
            (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
        print(f"{target}: {len(items)} seeds")


if __name__ == "__main__":
    main()
