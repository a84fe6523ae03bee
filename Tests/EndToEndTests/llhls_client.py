"""A small Low-Latency HLS client (RFC 8216bis) for the end-to-end tests.

It follows a live media playlist the way hls.js does (blocking reloads with _HLS_msn/_HLS_part for the part
after the last one listed), fetches every new part (the preload-hinted one in advance, which the server holds
until it is complete) and walks each part's ISO-BMFF boxes, so that the check_* functions can tell whether the
parts are complete, in order, gap- and duplicate-free, and decodable from every INDEPENDENT part.
"""
import re
import struct
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

import requests

from api_helpers import parse_attributes, stream_inf_attributes

NON_SYNC = 0x00010000  # sample_is_non_sync_sample in ISO-BMFF sample flags
GLOBAL_INDEX = re.compile(r"-p(\d+)\.m4s$")  # onair's part URIs: <prefix>-p<N>.m4s, N counting every part


# ---- ISO-BMFF ----

def boxes(data, start=0, end=None):
    """(type, box start, payload start, box end) of each box in data[start:end]."""
    end = len(data) if end is None else end
    while start < end:
        assert end - start >= 8, f"truncated box header at byte {start}"
        (size, kind), header = struct.unpack_from(">I4s", data, start), 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        size = size or end - start
        assert size >= header and start + size <= end, f"box {kind!r} at byte {start} (size {size}) overruns {end}"
        yield kind.decode("latin-1"), start, start + header, start + size
        start += size


def child(data, start, end, kind):
    """Payload (start, end) of the first `kind` box in data[start:end]."""
    found = next(((s, e) for k, _, s, e in boxes(data, start, end) if k == kind), None)
    assert found, f"no {kind} box"
    return found


# A track of an init segment (moov/trak); defaults: its trex's default sample duration, size and flags.
Track = namedtuple("Track", "track_id handler timescale defaults")
# One traf of one moof: a track's samples in one fragment. decode_time: tfdt's baseMediaDecodeTime (in
# track.timescale); duration and size: the sums over its samples; first_sync: the first sample is a sync sample.
Run = namedtuple("Run", "track decode_time samples duration size first_sync")


def parse_init(data):
    """The tracks of an init segment (ftyp + moov), by track ID."""
    assert [k for k, *_ in boxes(data)][:2] == ["ftyp", "moov"], "an init segment is ftyp + moov"
    moov, tracks, defaults = child(data, 0, len(data), "moov"), {}, {}
    for kind, _, start, _ in boxes(data, *child(data, *moov, "mvex")):
        if kind == "trex":
            track_id, _, duration, size, flags = struct.unpack_from(">5I", data, start + 4)
            defaults[track_id] = {"duration": duration, "size": size, "flags": flags}
    for kind, _, start, end in boxes(data, *moov):
        if kind == "trak":
            tkhd, mdia = child(data, start, end, "tkhd")[0], child(data, start, end, "mdia")
            mdhd, hdlr = child(data, *mdia, "mdhd")[0], child(data, *mdia, "hdlr")[0]
            track_id = struct.unpack_from(">I", data, tkhd + (20 if data[tkhd] == 1 else 12))[0]
            timescale = struct.unpack_from(">I", data, mdhd + (20 if data[mdhd] == 1 else 12))[0]
            tracks[track_id] = Track(track_id, data[hdlr + 8:hdlr + 12].decode("latin-1"), timescale,
                                     defaults.get(track_id, {"duration": 0, "size": 0, "flags": 0}))
    return tracks


def parse_fragments(data, tracks):
    """The moof+mdat pairs of a part or segment, each as its list of Runs. Asserts that every traf is CMAF's
    (default-base-is-moof, a tfdt) and that the samples fill the mdat after their moof exactly."""
    fragments, moof = [], None
    for kind, start, payload, end in boxes(data):
        if kind == "moof":
            assert moof is None, f"moof at byte {start} follows a moof"
            moof = (start, payload, end)
        elif kind not in ("styp", "prft"):
            assert kind == "mdat" and moof, f"{kind} box at byte {start} where a moof or its mdat belongs"
            runs = []
            for _, _, s, e in (box for box in boxes(data, moof[1], moof[2]) if box[0] == "traf"):
                run, extents = parse_traf(data, s, e, moof[0], tracks)
                for first, last in extents:
                    assert payload <= first <= last <= end, f"samples at {first}-{last} outside mdat {payload}-{end}"
                runs.append(run)
            assert runs, f"moof at byte {moof[0]} has no traf"
            used = sum(r.size for r in runs)
            assert used == end - payload, f"mdat at byte {start} holds {end - payload} bytes, its samples {used}"
            fragments.append(runs)
            moof = None
    assert fragments and moof is None, "not a sequence of moof+mdat"
    return fragments


def optional_fields(data, at, flags, layout):
    """The 32-bit fields of `layout` ((flag bit, name), ...) that `flags` has, and the offset after them."""
    values = {}
    for bit, name in layout:
        if flags & bit:
            values[name] = struct.unpack_from(">i" if name == "data_offset" else ">I", data, at)[0]
            at += 4
    return values, at


def parse_traf(data, start, end, moof_start, tracks):
    """A traf's Run and the byte extents its truns point at."""
    tfhd = child(data, start, end, "tfhd")[0]
    flags, track_id = struct.unpack_from(">II", data, tfhd)
    assert flags & 0x20000 and not flags & 0x1, f"tfhd flags {flags & 0xFFFFFF:#x}: not default-base-is-moof"
    track = tracks[track_id]
    given = optional_fields(data, tfhd + 8, flags, ((0x2, "index"), (0x8, "duration"), (0x10, "size"), (0x20, "flags")))
    defaults = {**track.defaults, **given[0]}
    tfdt = child(data, start, end, "tfdt")[0]
    decode_time = struct.unpack_from(">Q" if data[tfdt] == 1 else ">I", data, tfdt + 4)[0]
    samples = duration = size = 0
    first_sync, extents, offset = None, [], moof_start
    for trun in (s for kind, _, s, _ in boxes(data, start, end) if kind == "trun"):
        flags, count = struct.unpack_from(">II", data, trun)
        head, at = optional_fields(data, trun + 8, flags, ((0x1, "data_offset"), (0x4, "first_flags")))
        offset = moof_start + head["data_offset"] if "data_offset" in head else offset  # else after the last trun
        run_size = 0
        for i in range(count):
            sample, at = optional_fields(data, at, flags, ((0x100, "duration"), (0x200, "size"), (0x400, "flags"),
                                                           (0x800, "composition_offset")))
            sample = {**defaults, **sample}
            if first_sync is None:
                first_sync = not head.get("first_flags", sample["flags"]) & NON_SYNC
            duration += sample["duration"]
            run_size += sample["size"]
        extents.append((offset, offset + run_size))
        offset, samples, size = offset + run_size, samples + count, size + run_size
    assert samples, f"traf of track {track_id} has no samples"
    return Run(track, decode_time, samples, duration, size, first_sync), extents


# ---- Playlists ----

PlaylistPart = namedtuple("PlaylistPart", "uri duration independent")
INTEGER_TAGS = {"#EXT-X-VERSION": "version", "#EXT-X-TARGETDURATION": "target_duration",
                "#EXT-X-MEDIA-SEQUENCE": "media_sequence"}


@dataclass
class Segment:
    """A media segment, or the open one at the end (uri None) with the parts listed so far."""
    msn: int = 0
    uri: str = None
    duration: float = 0.0  # EXTINF, or the sum of the parts of the open segment
    parts: list = field(default_factory=list)
    pdt: datetime = None
    discontinuity: bool = False
    map_uri: str = None


@dataclass
class Playlist:
    text: str
    received: float  # time.time() when it arrived
    version: int = 1
    target_duration: int = None
    media_sequence: int = 0
    server_control: dict = field(default_factory=dict)
    part_target: float = None
    skipped: int = 0  # EXT-X-SKIP's SKIPPED-SEGMENTS
    segments: list = field(default_factory=list)
    preload_hint: str = None  # the URI of EXT-X-PRELOAD-HINT:TYPE=PART
    endlist: bool = False

    def listed_parts(self):
        """(segment, index in segment, part) of every listed part, in order."""
        return [(s, i, p) for s in self.segments for i, p in enumerate(s.parts)]


def unquote(value):
    return value.strip().strip('"')


def parse_media_playlist(text, received=None):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines and lines[0] == "#EXTM3U", text[:500]
    playlist, segment, map_uri = Playlist(text, received or time.time()), Segment(), None

    def add(segment):
        segment.msn, segment.map_uri = playlist.media_sequence + playlist.skipped + len(playlist.segments), map_uri
        playlist.segments.append(segment)
        return Segment()

    for line in lines[1:]:
        tag, _, value = line.partition(":")
        attributes = parse_attributes(value) if "=" in value else {}
        if tag in INTEGER_TAGS:
            setattr(playlist, INTEGER_TAGS[tag], int(value))
        elif tag == "#EXT-X-SERVER-CONTROL":
            playlist.server_control = {k: unquote(v) for k, v in attributes.items()}
        elif tag == "#EXT-X-PART-INF":
            playlist.part_target = float(attributes["PART-TARGET"])
        elif tag == "#EXT-X-SKIP":
            playlist.skipped = int(attributes["SKIPPED-SEGMENTS"])
        elif tag == "#EXT-X-MAP":
            map_uri = unquote(attributes["URI"])
        elif tag == "#EXT-X-DISCONTINUITY":
            segment.discontinuity = True
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            segment.pdt = datetime.fromisoformat(value)
        elif tag == "#EXT-X-PART":
            segment.parts.append(PlaylistPart(unquote(attributes["URI"]), float(attributes["DURATION"]),
                                              attributes.get("INDEPENDENT") == "YES"))
        elif tag == "#EXTINF":
            segment.duration = float(value.split(",")[0])
        elif tag == "#EXT-X-PRELOAD-HINT" and attributes.get("TYPE") == "PART":
            playlist.preload_hint = unquote(attributes["URI"])
        elif tag == "#EXT-X-ENDLIST":
            playlist.endlist = True
        elif not line.startswith("#"):
            segment.uri = line
            segment = add(segment)
    if segment.parts:
        segment.duration = sum(p.duration for p in segment.parts)
        add(segment)
    return playlist


def global_index(uri):
    match = GLOBAL_INDEX.search(uri)
    assert match, f"part URI {uri} does not end in -p<N>.m4s"
    return int(match.group(1))


def latency(playlist, now=None):
    """Seconds from the PROGRAM-DATE-TIME of the playback position to `now` (default: the wall clock), for a
    client that holds back PART-HOLD-BACK from the live edge (the end of the last listed part)."""
    anchor, since = None, 0.0  # the last PROGRAM-DATE-TIME, and the media listed from it on
    for segment in playlist.segments:
        if segment.pdt:
            anchor, since = segment.pdt.timestamp(), 0.0
        since += segment.duration
    assert anchor is not None, f"no EXT-X-PROGRAM-DATE-TIME:\n{playlist.text}"
    position = anchor + since - float(playlist.server_control["PART-HOLD-BACK"])
    return (time.time() if now is None else now) - position


# ---- The client ----

@dataclass
class Part:
    """A fetched part."""
    uri: str
    index: int  # the stream-global part number in its URI
    msn: int
    number: int  # its index in segment msn (what _HLS_part counts)
    duration: float
    independent: bool
    discontinuity: bool  # the first part of a segment after EXT-X-DISCONTINUITY
    map_uri: str
    arrived: float  # time.time() when its last byte arrived
    data: bytes
    fragments: list = None  # parse_fragments(data), or None and `error`
    error: str = None


class Client:
    """Follows the media playlist of `{base_url}/{playback_id}.m3u8`; `verify` is the CA file for HTTPS."""

    def __init__(self, base_url, playback_id, verify=None, prefetch_hint=True, timeout=20):
        self.sessions = [requests.Session() for _ in range(2)]  # playlists and parts; hinted parts (a thread)
        for s in self.sessions:
            s.verify, s.trust_env = verify or True, False
        self.multivariant_url, self.media_url = f"{base_url}/{playback_id}.m3u8", None
        self.prefetch_hint, self.timeout = prefetch_hint, timeout
        self.playlists, self.parts = [], []  # every playlist and part, in order
        self.inits, self.init_data = {}, {}  # MAP URI -> tracks, bytes
        self.reloads = []  # (msn, part, status, seconds) of every blocking reload
        self.hint_failures = []  # (uri, status or exception) of hinted parts not served as hinted
        self.position = None  # (msn, number) of the last part fetched

    def get(self, url, session=None, **params):
        """GET url?params; returns (response, time.time() when it arrived). The server may hold a request for
        3 target durations: the timeout allows for it."""
        held = 3 * self.playlist.target_duration + 5 if self.playlists and self.playlist.target_duration else 0
        r = (session or self.sessions[0]).get(url, params=params, timeout=max(self.timeout, held))
        return r, time.time()

    @property
    def playlist(self):
        return self.playlists[-1]

    def start(self):
        """Loads the multivariant and the media playlist; parts are fetched from the first of the last segment
        that lists any."""
        r, _ = self.get(self.multivariant_url)
        assert r.status_code == 200, f"{self.multivariant_url} -> {r.status_code}: {r.text[:500]}"
        self.media_url = urljoin(self.multivariant_url, stream_inf_attributes(r.text)[1])
        with_parts = [s for s in self.load().segments if s.parts]
        assert with_parts, f"the media playlist lists no EXT-X-PART:\n{self.playlist.text}"
        self.position = (with_parts[-1].msn, -1)
        return self.playlist

    def load(self, msn=None, part=None, skip=False):
        """GETs the media playlist with these delivery directives; returns it parsed (and appends it to
        self.playlists), or raises AssertionError on a status other than 200."""
        params = {k: v for k, v in (("_HLS_msn", msn), ("_HLS_part", part), ("_HLS_skip", "YES" if skip else None))
                  if v is not None}
        started = time.monotonic()
        r, received = self.get(self.media_url, **params)
        if msn is not None:
            self.reloads.append((msn, part, r.status_code, time.monotonic() - started))
        assert r.status_code == 200, f"{self.media_url} {params} -> {r.status_code}: {r.text[:500]}"
        playlist = parse_media_playlist(r.text, received)
        if playlist.skipped:  # a delta update may leave out the EXT-X-MAP of the segments it skipped
            known = {s.msn: s.map_uri for p in self.playlists for s in p.segments}
            for segment in playlist.segments:
                segment.map_uri = segment.map_uri or known.get(playlist.media_sequence + playlist.skipped - 1)
        self.playlists.append(playlist)
        return playlist

    def next_directive(self, playlist=None):
        """(msn, part) of the part after the last one listed, as hls.js asks for it: the next part of the open
        segment, or the first of the next segment when the last listed part ended its segment."""
        playlist = playlist or self.playlist
        with_parts = [s for s in playlist.segments if s.parts]
        if not with_parts:
            return playlist.segments[-1].msn + 1, None
        last = with_parts[-1]
        return (last.msn, len(last.parts)) if last.uri is None else (last.msn + 1, 0)

    def follow(self, seconds, stop=None):
        """Reloads and fetches new parts for `seconds`, until EXT-X-ENDLIST, or until `stop` (an Event) is set.
        A 503 (nothing new within 3 target durations, as while the publisher reconnects) is retried."""
        deadline, hint = time.monotonic() + seconds, None  # hint: (uri, future of its GET)
        with ThreadPoolExecutor(1) as pool:
            while True:
                hint = self._fetch_new_parts(hint)
                if self.playlist.endlist or time.monotonic() > deadline or (stop and stop.is_set()):
                    return
                uri = self.playlist.preload_hint
                if self.prefetch_hint and uri and (hint is None or hint[0] != uri):
                    if hint:  # the part hinted before was not listed next
                        self.hint_failures.append((hint[0], "never listed"))
                    hint = (uri, pool.submit(self.get, urljoin(self.media_url, uri), self.sessions[1]))
                try:
                    self.load(*self.next_directive())
                except AssertionError:
                    if self.reloads[-1][2] != 503:
                        raise

    def _fetch_new_parts(self, hint):
        """Fetches the parts listed after self.position; returns the hint still pending, if any."""
        for segment, number, listed in self.playlist.listed_parts():
            if (segment.msn, number) <= self.position:
                continue
            url, r = urljoin(self.media_url, listed.uri), None
            if hint and hint[0] == listed.uri:
                try:
                    r, arrived = hint[1].result()
                except requests.RequestException as e:
                    self.hint_failures.append((listed.uri, e))
                if r is not None and r.status_code != 200:
                    self.hint_failures.append((listed.uri, r.status_code))
                    r = None
                hint = None
            if r is None:
                r, arrived = self.get(url)
            assert r.status_code == 200, f"part {listed.uri} -> {r.status_code}"
            self.parts.append(self._part(segment, number, listed, r.content, arrived))
            self.position = (segment.msn, number)
        return hint

    def _part(self, segment, number, listed, data, arrived):
        if segment.map_uri not in self.inits:
            r, _ = self.get(urljoin(self.media_url, segment.map_uri))
            assert r.status_code == 200, f"init {segment.map_uri} -> {r.status_code}"
            self.inits[segment.map_uri], self.init_data[segment.map_uri] = parse_init(r.content), r.content
        part = Part(listed.uri, global_index(listed.uri), segment.msn, number, listed.duration, listed.independent,
                    segment.discontinuity and number == 0, segment.map_uri, arrived, data)
        try:
            part.fragments = parse_fragments(data, self.inits[segment.map_uri])
        except (AssertionError, struct.error, KeyError) as e:
            part.error = f"{type(e).__name__}: {e}"
        return part


# ---- Checks: each returns a list of problems, empty when all is well ----

def check_complete(parts):
    """Every part parsed: moof+mdat pairs whose samples fill each mdat."""
    return [f"{p.uri}: {p.error}" for p in parts if p.error]


def check_sequence(parts):
    """Each part follows the one before: global index + 1, and (msn, part) the next part of the same segment
    or the first of the next."""
    problems = []
    for a, b in zip(parts, parts[1:]):
        if b.index != a.index + 1:
            problems.append(f"{a.uri} is followed by {b.uri}")
        if (b.msn, b.number) not in ((a.msn, a.number + 1), (a.msn + 1, 0)):
            problems.append(f"part {a.msn}.{a.number} is followed by {b.msn}.{b.number}")
    return problems


def check_decode_times(parts):
    """Per track, each fragment starts where the one before ended (within 1 ms), but at a discontinuity."""
    problems, ends = [], {}
    for part in parts:
        ends = {} if part.discontinuity else ends
        for run in (r for fragment in part.fragments or [] for r in fragment):
            expected, scale = ends.get(run.track.track_id), run.track.timescale
            if expected is not None and abs(run.decode_time - expected) > max(1, scale // 1000):
                problems.append(f"{part.uri}: track {run.track.track_id} starts at {run.decode_time}, expected "
                                f"{expected} ({(run.decode_time - expected) / scale:+.3f} s)")
            ends[run.track.track_id] = run.decode_time + run.duration
    return problems


def check_independent(parts):
    """INDEPENDENT=YES parts begin with a video sync sample; the first part of a segment is INDEPENDENT=YES."""
    problems = []
    for part in parts:
        video = [r for fragment in part.fragments or [] for r in fragment if r.track.handler == "vide"]
        if video and part.independent and not video[0].first_sync:
            problems.append(f"{part.uri} is INDEPENDENT=YES but does not begin with a sync sample")
        if video and part.number == 0 and not part.independent:
            problems.append(f"{part.uri} begins segment {part.msn} but is not INDEPENDENT=YES")
    return problems
