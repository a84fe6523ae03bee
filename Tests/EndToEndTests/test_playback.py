"""HLS playback by playback ID over HTTPS and plain HTTP: playlists, segments, status codes, cache and CORS headers,
HEAD and byte ranges."""
import re
import time
from urllib.parse import urljoin, urlsplit

import m3u8
import requests

from api_helpers import API, call, data, expected_codecs, session, stream_inf_attributes, wait_playable, wait_segments
from conftest import finish, make_clip

CLIP_SECONDS = 12
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CACHE = "public, max-age=31536000, immutable"


def get(url, onair, method="GET", **kwargs):
    kwargs.setdefault("timeout", 10)
    if url.startswith("https:"):
        kwargs.setdefault("verify", str(onair.certificate))
    return requests.request(method, url, **kwargs)


def assert_playlist_headers(r):
    where = f"{r.request.method} {r.url} -> {r.status_code} {dict(r.headers)}"
    assert r.status_code == 200, where
    assert r.headers.get("Content-Type", "").split(";")[0].strip().lower() == PLAYLIST_TYPE, where
    assert r.headers.get("Access-Control-Allow-Origin") == "*", where
    cache = r.headers.get("Cache-Control", "").replace(" ", "").lower()
    assert cache in ("max-age=1", "no-cache", "public,max-age=1") or re.fullmatch(r"(public,)?max-age=1(,.*)?", cache), where


def assert_segment_headers(r):
    where = f"{r.request.method} {r.url} -> {r.status_code} {dict(r.headers)}"
    assert r.headers.get("Content-Type", "").split(";")[0].strip().lower() == "video/mp2t", where
    assert r.headers.get("Access-Control-Allow-Origin") == "*", where
    assert r.headers.get("Cache-Control") == SEGMENT_CACHE, where


def segment_urls(playlist_url, text):
    """Absolute URLs of the segments of a media playlist."""
    return [urljoin(playlist_url, s.uri) for s in m3u8.loads(text).segments]


def test_playlists_segments_headers_head_and_ranges(onair):
    s = session(onair)
    clip = make_clip("av", CLIP_SECONDS)
    stream = data(call(s, onair, "POST", API, json={"playback_policies": ["public", "signed"], "reconnect_window": 30}), 201)
    public = next(p["id"] for p in stream["playback_ids"] if p["policy"] == "public")
    signed = next(p["id"] for p in stream["playback_ids"] if p["policy"] == "signed")
    bases = [onair.base_url, onair.plain_url]

    # Before the stream is active: 412 (players retry), 403 for a signed ID, 404 for unknown IDs.
    for base in bases:
        for path, status in [(f"/{public}.m3u8", 412), (f"/{public}/index.m3u8", 412), (f"/{signed}.m3u8", 403),
                             (f"/{signed}/index.m3u8", 403), ("/unknown.m3u8", 404), ("/unknown/index.m3u8", 404),
                             (f"/{stream['id']}.m3u8", 404), (f"/{stream['stream_key']}.m3u8", 404)]:
            for method in ("GET", "HEAD"):
                r = get(base + path, onair, method)
                assert r.status_code == status, f"{method} {base}{path} -> {r.status_code} {r.text[:300]}"
                if method == "HEAD":
                    assert r.content == b""

    publisher = onair.publish(clip, stream)
    try:
        wait_playable(onair.base_url, public, verify=str(onair.certificate))
        wait_segments(onair.base_url, public, 2, verify=str(onair.certificate))

        for base in bases:
            # The multivariant playlist: one variant with the stream's real attributes, pointing at the media playlist.
            url = f"{base}/{public}.m3u8"
            r = get(url, onair)
            assert_playlist_headers(r)
            attributes, uri = stream_inf_attributes(r.text)
            assert int(attributes["BANDWIDTH"]) >= int(attributes["AVERAGE-BANDWIDTH"]) > 1_000_000, attributes
            assert int(attributes["BANDWIDTH"]) < 20_000_000, attributes
            assert attributes["CODECS"] == f'"{expected_codecs(clip)}"', attributes
            assert attributes["RESOLUTION"] == "1280x720", attributes
            assert attributes["FRAME-RATE"] == "30.000", attributes
            assert uri == f"{public}/index.m3u8", uri
            head = get(url, onair, "HEAD")
            assert_playlist_headers(head)
            assert head.content == b""

            # The media playlist: live (no ENDLIST yet), segments under /{PLAYBACK_ID}/.
            media_url = urljoin(url, uri)
            assert media_url == f"{base}/{public}/index.m3u8"
            r = get(media_url, onair)
            assert_playlist_headers(r)
            playlist = m3u8.loads(r.text)
            assert not playlist.is_endlist and playlist.target_duration >= 2 and len(playlist.segments) >= 2, r.text
            assert_playlist_headers(get(media_url, onair, "HEAD"))
            urls = segment_urls(media_url, r.text)
            for segment_url in urls:
                assert re.fullmatch(rf"/{public}/[^/]+\.ts", urlsplit(segment_url).path), segment_url

            # A segment: the same bytes as on disk, MPEG-TS, immutable.
            segment_url = urls[0]
            r = get(segment_url, onair)
            assert r.status_code == 200
            assert_segment_headers(r)
            body = r.content
            assert body == (onair.hls_dir / stream["id"] / urlsplit(segment_url).path.rsplit("/", 1)[1]).read_bytes()
            assert len(body) % 188 == 0 and body[0] == 0x47 and int(r.headers["Content-Length"]) == len(body)

            head = get(segment_url, onair, "HEAD")
            assert head.status_code == 200 and head.content == b""
            assert_segment_headers(head)
            assert int(head.headers["Content-Length"]) == len(body)

            # Byte ranges.
            for header, start, end in [("bytes=0-187", 0, 187), ("bytes=188-375", 188, 375),
                                       (f"bytes={len(body) - 188}-", len(body) - 188, len(body) - 1),
                                       ("bytes=-188", len(body) - 188, len(body) - 1)]:
                r = get(segment_url, onair, headers={"Range": header})
                assert r.status_code == 206, f"{header}: {r.status_code}"
                assert r.headers.get("Content-Range") == f"bytes {start}-{end}/{len(body)}", (header, r.headers)
                assert r.content == body[start:end + 1], header
                assert_segment_headers(r)
            r = get(segment_url, onair, headers={"Range": f"bytes={len(body) + 1000}-"})
            assert r.status_code == 416, r.status_code

            # A signed playback ID needs a token even while the stream is live; unknown segments and traversal are 404.
            for path in [f"/{signed}.m3u8", f"/{signed}/index.m3u8", f"/{signed}/{segment_url.rsplit('/', 1)[1]}"]:
                assert get(base + path, onair).status_code == 403, path
            for path in [f"/{public}/nope.ts", f"/unknown/{segment_url.rsplit('/', 1)[1]}",
                         f"/{public}/%2e%2e%2f%2e%2e%2fonair.yaml", f"/{public}/..%2F..%2Fonair.sqlite",
                         f"/{public}/%2e%2e/index.m3u8", f"/{stream['id']}/index.m3u8"]:
                r = get(base + path, onair)
                assert r.status_code == 404, f"{path} -> {r.status_code}: {r.content[:200]!r}"

            # Playback needs no credentials and ignores any that are sent, good or bad.
            for auth in (onair.write_token, onair.read_token, ("nobody", "wrong")):
                assert get(url, onair, auth=auth).status_code == 200

        # Deleting the playback ID stops playback at once; ingest carries on.
        assert call(s, onair, "DELETE", f"{API}/{stream['id']}/playback-ids/{public}").status_code == 204
        for base in bases:
            assert get(f"{base}/{public}.m3u8", onair).status_code == 404
            assert get(f"{base}/{public}/index.m3u8", onair).status_code == 404
        assert data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)["status"] == "active"
        code, err = finish(publisher)
        assert code == 0, err
    finally:
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate()


def test_new_playback_id_plays_at_once_and_complete_ends_the_playlist(onair):
    s = session(onair)
    clip = make_clip("av", CLIP_SECONDS)
    stream = data(call(s, onair, "POST", API, json={"reconnect_window": 30}), 201)
    assert stream["playback_ids"] == []
    publisher = onair.publish(clip, stream)
    try:
        deadline = time.monotonic() + 15
        while data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)["status"] != "active":
            assert time.monotonic() < deadline, "stream never became active"
            time.sleep(0.2)
        # A playback ID added while live plays at once.
        pid = data(call(s, onair, "POST", f"{API}/{stream['id']}/playback-ids", json={"policy": "public"}), 201)["id"]
        wait_playable(onair.plain_url, pid)
        text = wait_segments(onair.plain_url, pid, 2)
        assert "#EXT-X-ENDLIST" not in text
        code, err = finish(publisher)
        assert code == 0, err
    finally:
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate()
    # Complete writes EXT-X-ENDLIST now, not after the 30 s reconnect window, and playback serves it.
    assert data(call(s, onair, "PUT", f"{API}/{stream['id']}/complete"), 200) == {}
    deadline = time.monotonic() + 5
    while "#EXT-X-ENDLIST" not in (r := get(f"{onair.plain_url}/{pid}/index.m3u8", onair)).text:
        assert time.monotonic() < deadline, f"no EXT-X-ENDLIST 5 s after complete: {r.status_code} {r.text}"
        time.sleep(0.2)
    playlist = m3u8.loads(r.text)
    assert abs(sum(x.duration for x in playlist.segments) - CLIP_SECONDS) <= 0.6


def test_the_plain_http_listener_serves_playback_only(onair):
    s = session(onair)
    stream = data(call(s, onair, "POST", API, json={"playback_policies": "public"}), 201)
    pid = stream["playback_ids"][0]["id"]
    for method, path in [("GET", API), ("POST", API), ("GET", f"{API}/{stream['id']}"),
                         ("PUT", f"{API}/{stream['id']}/disable"), ("DELETE", f"{API}/{stream['id']}"),
                         ("GET", f"/video/v1/playback-ids/{pid}")]:
        for auth in (onair.write_token, None):
            r = requests.request(method, onair.plain_url + path, auth=auth, json={} if method == "POST" else None,
                                 timeout=10, allow_redirects=False)
            assert r.status_code == 404, f"plain HTTP {method} {path} -> {r.status_code}: {r.text[:300]}"
    # Nothing those requests asked for happened.
    assert data(call(s, onair, "GET", API), 200) == [stream]
    assert get(f"{onair.plain_url}/{pid}.m3u8", onair).status_code == 412
    # TLS on the plain port and plain HTTP on the TLS port both fail rather than leak the API.
    try:
        r = requests.get(onair.plain_url.replace("http:", "https:") + API, auth=onair.write_token, verify=False, timeout=5)
        assert r.status_code != 200
    except requests.exceptions.SSLError:
        pass
    try:
        r = requests.get(onair.base_url.replace("https:", "http:") + API, auth=onair.write_token, timeout=5)
        assert r.status_code != 200 or "stream_key" not in r.text
    except requests.exceptions.ConnectionError:
        pass
