"""A small Low-Latency HLS client (RFC 8216bis) for the end-to-end tests.

It follows a live media playlist the way hls.js does (blocking reloads with _HLS_msn/_HLS_part for the part
after the last one listed), fetches every new part (the preload-hinted one in advance, which the server holds
until it is complete), and walks each part's ISO-BMFF boxes, so the check_* functions can tell whether the
parts are complete, in order, gap- and duplicate-free, and decodable from every INDEPENDENT part.
"""
import re
import struct
import time
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
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif size == 0:
            size = end - start
        assert size >= header and start + size <= end, f"box {kind!r} at byte {start} (size {size}) overruns {end}"
        yield kind.decode("latin-1"), start, start + header, start + size
        start += size


def child(data, start, end, kind):
    """Payload (start, end) of the first `kind` box in data[start:end]."""
    found = next(((s, e) for k, _, s, e in boxes(data, start, end) if k == kind), None)
    assert found, f"no {kind} box"
    return found


@dataclass
class Track:
    """A track of an init segment (moov/trak), with its trex defaults."""
    track_id: int
    handler: str  # "vide" or "soun"
    timescale: int
    default_duration: int = 0
    default_size: int = 0
    default_flags: int = 0


def parse_init(data):
    """The tracks of an init segment (ftyp + moov), by track ID."""
    kinds = [k for k, *_ in boxes(data)]
    assert kinds[:2] == ["ftyp", "moov"], f"init segment boxes {kinds}"
    moov = child(data, 0, len(data), "moov")
    tracks = {}
    for kind, _, start, end in boxes(data, *moov):
        if kind == "trak":
            tkhd = child(data, start, end, "tkhd")[0]
            track_id = struct.unpack_from(">I", data, tkhd + (20 if data[tkhd] == 1 else 12))[0]
            mdia = child(data, start, end, "mdia")
            mdhd = child(data, *mdia, "mdhd")[0]
            timescale = struct.unpack_from(">I", data, mdhd + (20 if data[mdhd] == 1 else 12))[0]
            handler = data[child(data, *mdia, "hdlr")[0] + 8:][:4].decode("latin-1")
            tracks[track_id] = Track(track_id, handler, timescale)
    for kind, _, start, end in boxes(data, *child(data, *moov, "mvex")):
        if kind == "trex":
            track_id, _, duration, size, flags = struct.unpack_from(">5I", data, start + 4)
            tracks[track_id].default_duration, tracks[track_id].default_size = duration, size
            tracks[track_id].default_flags = flags
    return tracks


@dataclass
class Run:
    """One traf of one moof: a track's samples in one fragment."""
    track: Track
    decode_time: int  # tfdt baseMediaDecodeTime, in track.timescale
    samples: int
    duration: int  # sum of the sample durations
    size: int  # sum of the sample sizes
    first_sync: bool


def parse_fragments(data, tracks):
    """The moof+mdat pairs of a part or segment, each as its list of Runs. Asserts that every traf is CMAF's
    (default-base-is-moof, a tfdt) and that the samples fill the mdat that follows their moof exactly."""
    fragments, moof = [], None
    for kind, start, payload, end in boxes(data):
        if kind in ("styp", "prft"):
            continue
        if kind == "moof":
            assert moof is None, f"moof at byte {start} follows a moof"
            moof = (start, payload, end)
            continue
        assert kind == "mdat" and moof, f"{kind} box at byte {start} where moof or mdat belongs"
        runs, used = [], 0
        for k, _, s, e in boxes(data, moof[1], moof[2]):
            if k == "traf":
                run, extents = parse_traf(data, s, e, moof[0], tracks)
                for first, last in extents:
                    assert payload <= first <= last <= end, f"samples at {first}-{last} outside mdat {payload}-{end}"
                runs.append(run)
                used += run.size
        assert runs, f"moof at byte {moof[0]} has no traf"
        assert used == end - payload, f"mdat at byte {start} holds {end - payload} bytes, its samples {used}"
        fragments.append(runs)
        moof = None
    assert moof is None, "moof without mdat at the end"
    assert fragments, "no moof+mdat"
    return fragments


def parse_traf(data, start, end, moof_start, tracks):
    """A traf's Run and the byte extents its truns point at."""
    tfhd = child(data, start, end, "tfhd")[0]
    flags, track_id = struct.unpack_from(">II", data, tfhd)
    flags &= 0xFFFFFF
    assert flags & 0x20000 and not flags & 0x1, f"tfhd flags {flags:#x}: not default-base-is-moof"
    track = tracks[track_id]
    defaults, at = {"duration": track.default_duration, "size": track.default_size, "flags": track.default_flags}, tfhd + 8
    for bit, name in ((0x2, None), (0x8, "duration"), (0x10, "size"), (0x20, "flags")):
        if flags & bit:
            if name:
                defaults[name] = struct.unpack_from(">I", data, at)[0]
            at += 4
    tfdt = child(data, start, end, "tfdt")[0]
    decode_time = struct.unpack_from(">Q" if data[tfdt] == 1 else ">I", data, tfdt + 4)[0]
    samples = duration = size = 0
    first_sync, extents, offset = None, [], None
    for kind, _, s, _ in boxes(data, start, end):
        if kind != "trun":
            continue
        tr_flags, count = struct.unpack_from(">II", data, s)
        tr_flags &= 0xFFFFFF
        at = s + 8
        if tr_flags & 0x1:
            offset = moof_start + struct.unpack_from(">i", data, at)[0]
            at += 4
        first_flags = None
        if tr_flags & 0x4:
            first_flags = struct.unpack_from(">I", data, at)[0]
            at += 4
        run_size = 0
        for i in range(count):
            sample = {"duration": defaults["duration"], "size": defaults["size"], "flags": defaults["flags"]}
            for bit, name in ((0x100, "duration"), (0x200, "size"), (0x400, "flags"), (0x800, None)):
                if tr_flags & bit:
                    if name:
                        sample[name] = struct.unpack_from(">I", data, at)[0]
                    at += 4
            if i == 0 and first_flags is not None:
                sample["flags"] = first_flags
            if first_sync is None:
                first_sync = not sample["flags"] & NON_SYNC
            duration += sample["duration"]
            run_size += sample["size"]
        offset = moof_start if offset is None else offset  # a trun without data_offset follows the last one
        extents.append((offset, offset + run_size))
        offset += run_size
        samples += count
        size += run_size
    assert samples, f"traf of track {track_id} has no samples"
    return Run(track, decode_time, samples, duration, size, first_sync), extents


# ---- Playlists ----

@dataclass
class PlaylistPart:
    uri: str
    duration: float
    independent: bool


@dataclass
class Segment:
    """A media segment, or the open one at the end (uri None) whose parts are listed so far."""
    msn: int = 0
    uri: str = None
    duration: float = 0.0
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
    discontinuity_sequence: int = 0
    server_control: dict = field(default_factory=dict)
    part_target: float = None
    skipped: int = 0
    segments: list = field(default_factory=list)
    preload_hint: str = None
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
    for line in lines[1:]:
        tag, _, value = line.partition(":")
        attributes = parse_attributes(value) if "=" in value else {}
        if tag == "#EXT-X-VERSION":
            playlist.version = int(value)
        elif tag == "#EXT-X-TARGETDURATION":
            playlist.target_duration = int(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            playlist.media_sequence = int(value)
        elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
            playlist.discontinuity_sequence = int(value)
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
        if segment.uri:
            segment.msn = playlist.media_sequence + playlist.skipped + len(playlist.segments)
            segment.map_uri = map_uri
            playlist.segments.append(segment)
            segment = Segment()
    if segment.parts:  # the open segment
        segment.msn = playlist.media_sequence + playlist.skipped + len(playlist.segments)
        segment.map_uri = map_uri
        segment.duration = sum(p.duration for p in segment.parts)
        playlist.segments.append(segment)
    return playlist


def global_index(uri):
    match = GLOBAL_INDEX.search(uri)
    assert match, f"part URI {uri} does not end in -p<N>.m4s"
    return int(match.group(1))


def latency(playlist, now=None):
    """Seconds from the PROGRAM-DATE-TIME of the playback position to `now` (default: the wall clock), for a
    client that holds back PART-HOLD-BACK from the live edge (the end of the last listed part)."""
    hold_back = float(playlist.server_control["PART-HOLD-BACK"])
    anchor, since = None, 0.0  # the last PROGRAM-DATE-TIME and the media listed after it
    for segment in playlist.segments:
        if segment.pdt:
            anchor, since = segment.pdt.timestamp(), 0.0
        since += segment.duration
    assert anchor is not None, f"no EXT-X-PROGRAM-DATE-TIME:\n{playlist.text}"
    return (time.time() if now is None else now) - (anchor + since - hold_back)


# ---- The client ----

@dataclass
class Part:
    """A fetched part."""
    uri: str
    index: int  # the stream-global part number from the URI
    msn: int
    number: int  # its index within segment msn (what _HLS_part counts)
    duration: float
    independent: bool
    discontinuity: bool  # the first part of a segment after EXT-X-DISCONTINUITY
    map_uri: str
    arrived: float  # time.time() when its last byte arrived
    data: bytes
    fragments: list = None  # parse_fragments(data), or None with `error`
    error: str = None


class Client:
    """Follows the media playlist of `{base_url}/{playback_id}.m3u8`; `verify` is the CA file for HTTPS."""

    def __init__(self, base_url, playback_id, verify=None, prefetch_hint=True, timeout=20):
        self.sessions = [self._session(verify) for _ in range(2)]  # playlists; hinted parts (in a thread)
        self.multivariant_url = f"{base_url}/{playback_id}.m3u8"
        self.prefetch_hint, self.timeout = prefetch_hint, timeout
        self.playlists, self.parts = [], []  # every playlist and part, in order
        self.inits, self.init_data = {}, {}  # MAP URI -> tracks, bytes
        self.reloads = []  # (msn, part, status, seconds) of every blocking reload
        self.hint_failures = []  # (uri, status) of hinted parts the server did not serve
        self.media_url = self.position = None

    @staticmethod
    def _session(verify):
        s = requests.Session()
        s.verify, s.trust_env = verify or True, False
        return s

    def get(self, url, session=None, **params):
        """GET url (with query params); returns (response, time.time() when it arrived)."""
        r = (session or self.sessions[0]).get(url, params=params, timeout=self.timeout)
        return r, time.time()

    @property
    def playlist(self):
        return self.playlists[-1]

    def start(self):
        """Loads the multivariant and the media playlist; parts are fetched from the start of the last
        segment that lists any."""
        r, _ = self.get(self.multivariant_url)
        assert r.status_code == 200, f"{self.multivariant_url} -> {r.status_code}: {r.text[:500]}"
        self.media_url = urljoin(self.multivariant_url, stream_inf_attributes(r.text)[1])
        playlist = self.load()
        with_parts = [s for s in playlist.segments if s.parts]
        assert with_parts, f"the media playlist lists no EXT-X-PART:\n{playlist.text}"
        self.position = (with_parts[-1].msn, -1)  # (msn, number) of the last part fetched
        return playlist

    def load(self, msn=None, part=None, skip=False):
        """GET the media playlist with delivery directives; returns the parsed playlist (also appended to
        self.playlists) or raises on a status other than 200."""
        params = {k: v for k, v in (("_HLS_msn", msn), ("_HLS_part", part), ("_HLS_skip", "YES" if skip else None))
                  if v is not None}
        started = time.monotonic()
        r, received = self.get(self.media_url, **params)
        if msn is not None:
            self.reloads.append((msn, part, r.status_code, time.monotonic() - started))
        assert r.status_code == 200, f"{self.media_url} {params} -> {r.status_code}: {r.text[:500]}"
        self.playlists.append(parse_media_playlist(r.text, received))
        return self.playlist

    def next_directive(self, playlist=None):
        """(msn, part) of the part after the last one listed, as hls.js asks for it."""
        playlist = playlist or self.playlist
        with_parts = [s for s in playlist.segments if s.parts]
        if not with_parts:
            return playlist.segments[-1].msn + 1, None
        last = with_parts[-1]
        return (last.msn, len(last.parts)) if last.uri is None else (last.msn + 1, 0)

    def follow(self, seconds, stop=None):
        """Reloads and fetches new parts for `seconds`, until EXT-X-ENDLIST, or until `stop` (an Event) is set.
        A 503 (nothing new within 3 target durations, e.g. while the publisher reconnects) is retried."""
        deadline = time.monotonic() + seconds
        hint = None  # (uri, future of its GET)
        with ThreadPoolExecutor(1) as pool:
            while True:
                hint = self._fetch_new_parts(hint)
                if self.playlist.endlist or time.monotonic() > deadline or (stop and stop.is_set()):
                    break
                uri = self.playlist.preload_hint
                if self.prefetch_hint and uri and (hint is None or hint[0] != uri):
                    if hint:  # the part hinted before was not listed after the last one fetched
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
            if hint and hint[0] == listed.uri:
                (r, arrived), hint = hint[1].result(), None
                if r.status_code != 200:
                    self.hint_failures.append((listed.uri, r.status_code))
                    r, arrived = self.get(urljoin(self.media_url, listed.uri))
            else:
                r, arrived = self.get(urljoin(self.media_url, listed.uri))
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
    """The parts follow one another: global index +1 each, and (msn, part) the next part or the first of the
    next segment."""
    problems = []
    for a, b in zip(parts, parts[1:]):
        if b.index != a.index + 1:
            problems.append(f"{a.uri} is followed by {b.uri}")
        if (b.msn, b.number) not in ((a.msn, a.number + 1), (a.msn + 1, 0)):
            problems.append(f"part {a.msn}.{a.number} is followed by {b.msn}.{b.number}")
    return problems


def check_decode_times(parts):
    """Per track, each fragment starts where the previous one ended (within 1 ms), except at a discontinuity."""
    problems, ends = [], {}
    for part in parts:
        if part.discontinuity:
            ends = {}
        for run in (r for fragment in part.fragments or [] for r in fragment):
            expected = ends.get(run.track.track_id)
            tolerance = max(1, run.track.timescale // 1000)
            if expected is not None and abs(run.decode_time - expected) > tolerance:
                problems.append(f"{part.uri}: track {run.track.track_id} starts at {run.decode_time}, "
                                f"expected {expected} ({(run.decode_time - expected) / run.track.timescale:+.3f} s)")
            ends[run.track.track_id] = run.decode_time + run.duration
    return problems


def check_independent(parts):
    """INDEPENDENT=YES parts begin with a video sync sample, and so does the first part of every segment."""
    problems = []
    for part in parts:
        video = [r for fragment in part.fragments or [] for r in fragment if r.track.handler == "vide"]
        if video and (part.independent or part.number == 0) and not video[0].first_sync:
            problems.append(f"{part.uri} ({part.msn}.{part.number}, INDEPENDENT={part.independent}) "
                            "does not begin with a sync sample")
        if video and part.number == 0 and not part.independent:
            problems.append(f"{part.uri} begins segment {part.msn} but is not INDEPENDENT=YES")
    return problems


def check_playlists(playlists):
    """LL-HLS playlist invariants across reloads: constant PART-TARGET, PART-HOLD-BACK and TARGETDURATION,
    PART-HOLD-BACK >= 3 x PART-TARGET, part durations <= PART-TARGET, a preload hint naming the next part."""
    problems, first = [], playlists[0]
    constant = lambda p: (p.part_target, p.server_control.get("PART-HOLD-BACK"), p.target_duration)
    if first.part_target is None or float(first.server_control.get("PART-HOLD-BACK", 0)) < 3 * first.part_target:
        problems.append(f"PART-TARGET {first.part_target}, SERVER-CONTROL {first.server_control}")
    for playlist in playlists:
        if constant(playlist) != constant(first):
            problems.append(f"(PART-TARGET, PART-HOLD-BACK, TARGETDURATION) {constant(playlist)} != {constant(first)}")
        listed = playlist.listed_parts()
        problems += [f"{p.uri} lasts {p.duration} > PART-TARGET {playlist.part_target}"
                     for _, _, p in listed if p.duration > playlist.part_target]
        if not playlist.endlist and (not listed or not playlist.preload_hint
                                     or global_index(playlist.preload_hint) != global_index(listed[-1][2].uri) + 1):
            problems.append(f"preload hint {playlist.preload_hint} after {listed[-1][2].uri if listed else None}")
    return problems
