"""Helpers for the HTTPS API and playback tests: a requests session per token, database snapshots,
waiting on status, and reading playlists over HTTP."""
import json
import subprocess
import time

import requests

API = "/video/v1/live-streams"


def session(onair, token="write"):
    """A requests session against onair.base_url: Basic auth with the write or read token (or none),
    verifying the server's self-signed certificate."""
    s = requests.Session()
    s.verify = str(onair.certificate)
    s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
    if token == "write":
        s.auth = onair.write_token
    elif token == "read":
        s.auth = onair.read_token
    elif token is not None:
        s.auth = token
    return s


def call(s, onair, method, path, **kwargs):
    """One request with a bounded timeout; `path` is relative to base_url."""
    kwargs.setdefault("timeout", 10)
    return s.request(method, onair.base_url + path, **kwargs)


def data(response, status):
    """The `data` of a successful response, after checking its status and envelope."""
    assert response.status_code == status, f"{response.request.method} {response.request.url}: " \
        f"expected {status}, got {response.status_code}: {response.text[:2000]}"
    body = response.json()
    assert set(body) == {"data"}, body
    return body["data"]


def assert_error(response, status, kind, *, mentions=None):
    """The Mux error envelope: {"error": {"type": kind, "messages": [str, ...]}} with `status`."""
    where = f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text[:2000]}"
    assert response.status_code == status, where
    assert response.headers.get("Content-Type", "").startswith("application/json"), where
    body = response.json()
    assert set(body) == {"error"}, where
    error = body["error"]
    assert error.get("type") == kind, where
    messages = error.get("messages")
    assert isinstance(messages, list) and messages and all(isinstance(m, str) and m for m in messages), where
    if mentions is not None:
        assert any(mentions in m for m in messages), f"no message names {mentions!r}: {where}"
    return error


def api_streams(onair):
    """Every stream as the API lists it (all pages), keyed by id."""
    s = session(onair)
    streams, page = {}, 1
    while True:
        batch = data(call(s, onair, "GET", API, params={"limit": 100, "page": page}), 200)
        streams.update({x["id"]: x for x in batch})
        if len(batch) < 100:
            return streams
        page += 1


def cli_streams(onair):
    """Every stream as the CLI reads it straight from the database, keyed by id."""
    out = json.loads(onair.cli("streams", "list", "--json", "--limit", "1000"))
    return {x["id"]: x for x in out}


def snapshot(onair):
    """The database as seen through both the API and the CLI; compare before/after a rejected request."""
    return {"api": api_streams(onair), "cli": cli_streams(onair)}


def wait_status(onair, stream_id, status, timeout=10, s=None):
    s = s or session(onair)
    deadline = time.monotonic() + timeout
    while True:
        current = data(call(s, onair, "GET", f"{API}/{stream_id}"), 200)
        if current["status"] == status:
            return current
        assert time.monotonic() < deadline, f"stream {stream_id} is {current['status']}, not {status}, after {timeout} s"
        time.sleep(0.2)


def wait_playable(base, playback_id, timeout=20, verify=None):
    """Polls GET {base}/{pid}.m3u8 until 200 (412 until the stream is active); returns the response."""
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(f"{base}/{playback_id}.m3u8", verify=verify, timeout=10)
        if r.status_code == 200:
            return r
        assert r.status_code == 412, f"{playback_id}.m3u8 -> {r.status_code}: {r.text[:500]}"
        assert time.monotonic() < deadline, f"{playback_id}.m3u8 still 412 after {timeout} s"
        time.sleep(0.2)


def wait_segments(base, playback_id, count, timeout=30, verify=None):
    """Polls the media playlist until it lists `count` segments; returns its text."""
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(f"{base}/{playback_id}/index.m3u8", verify=verify, timeout=10)
        if r.status_code == 200 and r.text.count("#EXTINF") >= count:
            return r.text
        assert time.monotonic() < deadline, f"media playlist of {playback_id} has not {count} segments: {r.status_code} {r.text[:1000]}"
        time.sleep(0.2)


def stream_inf_attributes(text):
    """The attributes of the single #EXT-X-STREAM-INF of a multivariant playlist and the URI after it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines and lines[0] == "#EXTM3U", text
    infs = [i for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(infs) == 1, text
    attributes = parse_attributes(lines[infs[0]].split(":", 1)[1])
    return attributes, lines[infs[0] + 1]


def parse_attributes(text):
    """An HLS attribute list: KEY=value pairs, quoted values may contain commas."""
    out, key, value, quoted = {}, "", "", False
    state = "key"
    for ch in text + ",":
        if state == "key":
            if ch == "=":
                state = "value"
            else:
                key += ch
        elif ch == '"':
            quoted = not quoted
            value += ch
        elif ch == "," and not quoted:
            out[key.strip()] = value.strip()
            key, value, state = "", "", "key"
        else:
            value += ch
    return out


def ffmpeg_decode_url(url, ca_file=None, timeout=120, seconds=None):
    """What ffmpeg prints decoding an HLS URL (its first `seconds`, or up to EXT-X-ENDLIST) to null: must be empty."""
    tls = ["-ca_file", str(ca_file), "-tls_verify", "1"] if ca_file else ["-tls_verify", "0"]
    limit = ["-t", str(seconds)] if seconds else []
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", *tls, "-i", url, *limit, "-f", "null", "-"],
                         capture_output=True, text=True, timeout=timeout)
    return (out.stdout + out.stderr).strip() + ("" if out.returncode == 0 else f" (exit {out.returncode})")


def expected_codecs(clip):
    """The RFC 6381 CODECS value of a clip's H.264 and AAC tracks, from ffprobe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,profile,level",
                          "-of", "json", str(clip)], capture_output=True, text=True, timeout=60, check=True)
    parts = []
    for s in json.loads(out.stdout)["streams"]:
        if s["codec_type"] == "video":
            assert s["codec_name"] == "h264", s
            profile_idc = {"Baseline": 66, "Constrained Baseline": 66, "Main": 77, "High": 100}[s["profile"]]
            # constraint flags: Constrained Baseline sets constraint_set1 (0x40); High/Main set none in x264's output.
            constraints = 0x40 if s["profile"] == "Constrained Baseline" else 0
            parts.append(f"avc1.{profile_idc:02x}{constraints:02x}{int(s['level']):02x}")
        elif s["codec_type"] == "audio":
            assert s["codec_name"] == "aac", s
            parts.append("mp4a.40.2")
    return ",".join(parts)
