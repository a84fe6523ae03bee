#!/usr/bin/env python3
"""The cost of recording broadcasts into assets (issue 13), measured side by side in one run.

  cpu      two onair servers, the same release binary, the same publishers at once (the load generator
           replaying the 60 s 720p clip in real time): one whose streams record (new_asset_settings),
           one whose streams do not. Server CPU (schedstat run time, ns) over the same interval; the
           ratio recording / not recording is the figure (goal: under 1.15x).
  mp4      a 10-minute broadcast (the 600 s clip pushed at full speed) recorded, then its static
           rendition highest.mp4 built (the time onair logs for the build), against the anchor
           `ffmpeg -i <recording>/index.m3u8 -c copy -movflags +faststart` on the same recording.

    python bench/recording.py [--publishers 20] [--seconds 60] [--onair .build/release/onair]

Writes bench/recording.md.
"""
import argparse
import base64
import http.client
import json
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "Tests/EndToEndTests"))
import conftest  # noqa: E402
import run as bench  # noqa: E402


def api(server, method, path, body=None):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    connection = http.client.HTTPSConnection("127.0.0.1", server.https_port, context=context, timeout=30)
    auth = "Basic " + base64.b64encode(f"{server.conf.write_token[0]}:{server.conf.write_token[1]}".encode()).decode()
    connection.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"Authorization": auth, "Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status >= 300:
        raise bench.BenchFailure(f"{method} {path} answered {response.status}: {data[:300]!r}")
    return json.loads(data)["data"]


def create_streams(server, count, body):
    streams = []
    for _ in range(count):
        stream = api(server, "POST", "/video/v1/live-streams", body)
        streams.append({"id": stream["id"], "key": stream["stream_key"],
                        "playlist": server.hls_dir / stream["id"] / "index.m3u8"})
    return streams


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise bench.BenchFailure(f"timed out waiting for {what}")


def phase_cpu(plain, recording, publishers, seconds, clip, work):
    base = {"playback_policy": ["public"], "reconnect_window": 0}
    plain_streams = create_streams(plain, publishers, base)
    recorded_streams = create_streams(recording, publishers, {**base, "new_asset_settings": {"playback_policy": ["public"]}})
    time.sleep(1)
    before = {s.name: s.runtime() for s in (plain, recording)}
    started = time.monotonic()
    runs = [(s, *bench.run_loadgen(s, streams, seconds, clip, 2, work)) for s, streams in
            ((plain, plain_streams), (recording, recorded_streams))]
    for server, process, out in runs:
        bench.finish_loadgen(server, process, out, seconds + 60)
    # The recordings complete at idle: wait for every asset, then for the CPU to settle.
    def completed():
        assets = api(recording, "GET", "/video/v1/assets?limit=100")
        return len(assets) >= publishers and all(not a["is_live"] for a in assets) and assets
    assets = wait(completed, 60, "the recordings to complete")
    for server in (plain, recording):
        bench.wait_stable_cpu(server)
    elapsed = time.monotonic() - started
    used = {s.name: s.runtime() - before[s.name] for s in (plain, recording)}
    durations = [a.get("duration") or 0 for a in assets]
    return {"publishers": publishers, "seconds": seconds, "elapsed": elapsed,
            "plain_cpu_s": used["plain"], "recording_cpu_s": used["recording"],
            "ratio": used["recording"] / used["plain"] if used["plain"] else float("nan"),
            "asset_duration_min": min(durations), "asset_duration_max": max(durations),
            "recorded_bytes": sum(p.stat().st_size for p in recording.conf.recordings_dir.rglob("*") if p.is_file())}


def phase_mp4(server, clip, minutes):
    body = {"playback_policy": ["public"], "reconnect_window": 0,
            "new_asset_settings": {"playback_policy": ["public"], "static_renditions": [{"resolution": "highest"}]}}
    (stream,) = create_streams(server, 1, body)
    push = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(clip), "-c", "copy", "-f", "flv",
                           f"rtmp://127.0.0.1:{server.rtmp_port}/app/{stream['key']}"], capture_output=True, text=True, timeout=600)
    if push.returncode != 0:
        raise bench.BenchFailure(f"pushing the {minutes}-minute clip failed: {push.stderr[-500:]}")

    def built():
        asset = api(server, "GET", f"/video/v1/assets?live_stream_id={stream['id']}")
        files = asset[0]["static_renditions"]["files"] if asset else []
        return asset and files and files[0]["status"] in ("ready", "errored") and asset[0]
    asset = wait(built, 600, "highest.mp4")
    if asset["static_renditions"]["files"][0]["status"] != "ready":
        raise bench.BenchFailure(f"highest.mp4 failed: {server.log_tail()}")
    log = (server.root / "onair.log").read_text(errors="replace")
    took = re.findall(r'static rendition ready asset_id=' + asset["id"] + r'.*?took="([0-9.]+) seconds"', log)
    if not took:
        raise bench.BenchFailure("no build time in the log")
    directory = server.conf.recordings_dir / asset["id"]
    anchor_out = directory.parent / "anchor.mp4"
    started = time.monotonic()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(directory / "index.m3u8"), "-c", "copy", "-movflags", "+faststart",
                    str(anchor_out)], check=True, timeout=600)
    anchor = time.monotonic() - started
    probe = lambda path: float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                                              capture_output=True, text=True).stdout.strip() or "nan")
    return {"minutes": minutes, "recording_bytes": sum(p.stat().st_size for p in directory.glob("*.ts")),
            "onair_s": float(took[-1]), "ffmpeg_s": anchor, "ratio": float(took[-1]) / anchor,
            "onair_duration": probe(directory / "highest.mp4"), "ffmpeg_duration": probe(anchor_out),
            "asset_duration": asset["duration"], "mp4_bytes": (directory / "highest.mp4").stat().st_size}


def long_clip(clip, minutes):
    """The 60 s clip `minutes` times over, joined without re-encoding (made once, beside the clip)."""
    path = clip.with_name(f"{clip.stem}-x{minutes}.flv")
    if not path.exists():
        listing = clip.with_name(f"{clip.stem}-x{minutes}.txt")
        listing.write_text("".join(f"file '{clip}'\n" for _ in range(minutes)))
        temporary = path.with_suffix(".tmp.flv")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                        "-f", "flv", str(temporary)], check=True, timeout=300)
        temporary.rename(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--publishers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--minutes", type=int, default=10, help="length of the recording remuxed into MP4")
    parser.add_argument("--onair", default=str(ROOT / ".build/release/onair"))
    parser.add_argument("--output", default=str(BENCH / "recording.md"))
    args = parser.parse_args()
    clip = conftest.make_clip("av", 60)
    joined = long_clip(clip, args.minutes)
    # As installed: HLS in tmpfs, recordings on the disk.
    work = Path(tempfile.mkdtemp(prefix="onair-bench-recording-", dir="/dev/shm"))
    disk = Path(tempfile.mkdtemp(prefix="onair-bench-recordings-", dir="/var/tmp"))
    servers = []
    try:
        for name in ("plain", "recording"):
            (work / name).mkdir()
            server = bench.OnairServer(work / name, args.onair, recordings={"directory": disk / name})
            server.name = name
            server.start()
            servers.append(server)
        bench.log(f"cpu: {args.publishers} publishers x {args.seconds:.0f} s on each server, at once")
        cpu = phase_cpu(servers[0], servers[1], args.publishers, args.seconds, clip, work)
        bench.log(f"  not recording {cpu['plain_cpu_s']:.2f} s CPU, recording {cpu['recording_cpu_s']:.2f} s: {cpu['ratio']:.3f}x")
        bench.log(f"mp4: a {args.minutes}-minute recording into highest.mp4")
        mp4 = phase_mp4(servers[1], joined, args.minutes)
        bench.log(f"  onair {mp4['onair_s']:.2f} s, ffmpeg -c copy {mp4['ffmpeg_s']:.2f} s: {mp4['ratio']:.2f}x")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(disk, ignore_errors=True)
    info = bench.machine_info()
    disk_kind = subprocess.run(["df", "-T", "/var/tmp"], capture_output=True, text=True).stdout.split("\n")[1].split()[1]
    machine = f"{info['nproc']} CPUs ({info['cpu']}), {info['memory']}, Linux {info['kernel']}, load {info['load_at_start']} at start"
    text = f"""# Recording benchmark (bench/recording.py)

`{' '.join(['python', 'bench/recording.py'] + sys.argv[1:])}` on {machine}, onair {servers[0].version()}.

| figure | onair | anchor | ratio | goal |
|---|---|---|---|---|
| server CPU, {cpu['publishers']} publishers x {cpu['seconds']:.0f} s, recording vs the same without (s, schedstat) | {cpu['recording_cpu_s']:.2f} | {cpu['plain_cpu_s']:.2f} | {cpu['ratio']:.3f}x | under 1.15x: {'met' if cpu['ratio'] < 1.15 else 'NOT met'} |
| highest.mp4 of a {mp4['minutes']}-minute recording ({mp4['recording_bytes'] / 1e6:.0f} MB of MPEG-TS), build time (s) vs `ffmpeg -c copy -movflags +faststart` | {mp4['onair_s']:.2f} | {mp4['ffmpeg_s']:.2f} | {mp4['ratio']:.2f}x | |

- The recordings: {cpu['publishers']} assets of {cpu['asset_duration_min']:.1f}-{cpu['asset_duration_max']:.1f} s, {cpu['recorded_bytes'] / 1e6:.0f} MB written.
- The MP4s: onair's {mp4['mp4_bytes'] / 1e6:.0f} MB lasting {mp4['onair_duration']:.2f} s, ffmpeg's lasting {mp4['ffmpeg_duration']:.2f} s; the asset says {mp4['asset_duration']} s.
- Both servers ran at once on the same cores with their load generators, so each saw the same contention;
  HLS in tmpfs (/dev/shm) as installed, recordings on the disk ({disk_kind}).
- Where the recording's CPU goes (perf, 20 publishers x 30 s, recording server): the kernel copying the recorded
  bytes into the page cache is most of it, as much again as the live segments' own writes; the rest of recording
  (queue, playlist appends, database saves every 5 s) is a few per cent.
"""
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
