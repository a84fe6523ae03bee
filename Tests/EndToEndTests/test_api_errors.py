"""Bad input to the management API: every rejected request gets the right status and the Mux error envelope,
and leaves the database exactly as it was (checked through the API and the CLI)."""
import json

from api_helpers import API, assert_error, call, data, session, snapshot

LIMIT = 64 * 1024


def check_all(cases, run):
    """Runs every case, collecting failures so one run reports the whole matrix."""
    failures = []
    for case in cases:
        try:
            run(*case)
        except AssertionError as e:
            failures.append(f"{case!r}: {e}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


def make_stream(onair, **body):
    return data(call(session(onair), onair, "POST", API, json=body or {"playback_policies": ["public"]}), 201)


def test_credentials_are_checked_before_anything_else(onair):
    stream = make_stream(onair)
    sid, pid = stream["id"], stream["playback_ids"][0]["id"]
    routes = [("GET", API), ("POST", API), ("GET", f"{API}/{sid}"), ("PATCH", f"{API}/{sid}"),
              ("DELETE", f"{API}/{sid}"), ("POST", f"{API}/{sid}/reset-stream-key"), ("PUT", f"{API}/{sid}/complete"),
              ("PUT", f"{API}/{sid}/enable"), ("PUT", f"{API}/{sid}/disable"), ("POST", f"{API}/{sid}/playback-ids"),
              ("GET", f"{API}/{sid}/playback-ids/{pid}"), ("DELETE", f"{API}/{sid}/playback-ids/{pid}"),
              ("GET", f"/video/v1/playback-ids/{pid}"), ("GET", f"{API}/unknown")]
    bad = [None, ("e2e-write", "wrong"), ("nobody", onair.write_token[1]), (onair.read_token[0], onair.write_token[1]),
           ("", "")]
    before = snapshot(onair)

    def run(method, path, token, headers=None):
        s = session(onair, token)
        body = {"policy": "public"} if path.endswith("playback-ids") else ({} if method in ("POST", "PATCH") else None)
        r = call(s, onair, method, path, json=body, headers=headers or {})
        assert_error(r, 401, "unauthorized")
        assert "basic" in r.headers.get("WWW-Authenticate", "").lower(), r.headers

    cases = [(m, p, t) for m, p in routes for t in bad]
    # Malformed Authorization headers: not Basic, not base64, no colon.
    cases += [("GET", API, None, {"Authorization": h}) for h in
              ["Bearer " + onair.write_token[1], "Basic", "Basic !!!notbase64", "Basic ZTJlLXdyaXRl",
               "basic"]]
    check_all(cases, run)
    assert snapshot(onair) == before


def test_the_read_token_reads_but_never_writes(onair):
    stream = make_stream(onair)
    sid, pid = stream["id"], stream["playback_ids"][0]["id"]
    reader = session(onair, "read")
    assert [s["id"] for s in data(call(reader, onair, "GET", API), 200)] == [sid]
    assert data(call(reader, onair, "GET", f"{API}/{sid}"), 200)["stream_key"] == stream["stream_key"]
    assert data(call(reader, onair, "GET", f"{API}/{sid}/playback-ids/{pid}"), 200) == {"id": pid, "policy": "public"}
    assert data(call(reader, onair, "GET", f"/video/v1/playback-ids/{pid}"), 200)["object"] == \
        {"id": sid, "type": "live_stream"}
    assert_error(call(reader, onair, "GET", f"{API}/unknown"), 404, "not_found")

    writes = [("POST", API, {"playback_policies": ["public"]}), ("POST", API, None),
              ("PATCH", f"{API}/{sid}", {"passthrough": "x"}), ("DELETE", f"{API}/{sid}", None),
              ("POST", f"{API}/{sid}/reset-stream-key", None), ("PUT", f"{API}/{sid}/complete", None),
              ("PUT", f"{API}/{sid}/enable", None), ("PUT", f"{API}/{sid}/disable", None),
              ("POST", f"{API}/{sid}/playback-ids", {"policy": "public"}),
              ("DELETE", f"{API}/{sid}/playback-ids/{pid}", None),
              # A write to something that does not exist is still forbidden, not 404: the token may not write at all.
              ("DELETE", f"{API}/unknown", None)]
    before = snapshot(onair)

    def run(method, path, body):
        r = call(reader, onair, method, path, json=body, headers={"Content-Type": "application/json"})
        assert_error(r, 403, "forbidden")
        assert snapshot(onair) == before, "a forbidden request changed the database"

    check_all(writes, run)


def test_unknown_ids_are_404(onair):
    stream = make_stream(onair)
    other = make_stream(onair)
    sid, pid, foreign = stream["id"], stream["playback_ids"][0]["id"], other["playback_ids"][0]["id"]
    before = snapshot(onair)
    cases = [("GET", f"{API}/nope", None), ("PATCH", f"{API}/nope", {"passthrough": "x"}), ("DELETE", f"{API}/nope", None),
             ("POST", f"{API}/nope/reset-stream-key", None), ("PUT", f"{API}/nope/complete", None),
             ("PUT", f"{API}/nope/enable", None), ("PUT", f"{API}/nope/disable", None),
             ("POST", f"{API}/nope/playback-ids", {"policy": "public"}),
             ("GET", f"{API}/nope/playback-ids/{pid}", None), ("DELETE", f"{API}/nope/playback-ids/{pid}", None),
             ("GET", f"{API}/{sid}/playback-ids/nope", None), ("DELETE", f"{API}/{sid}/playback-ids/nope", None),
             # Another stream's playback ID is not this stream's.
             ("GET", f"{API}/{sid}/playback-ids/{foreign}", None), ("DELETE", f"{API}/{sid}/playback-ids/{foreign}", None),
             ("GET", "/video/v1/playback-ids/nope", None),
             # IDs that need percent-encoding, as the SDK sends them.
             ("GET", f"{API}/a%2Fb%20c", None),
             # Unknown assets, and what hangs off them.
             ("GET", "/video/v1/assets/nope", None), ("PATCH", "/video/v1/assets/nope", {"passthrough": "x"}),
             ("DELETE", "/video/v1/assets/nope", None), ("POST", "/video/v1/assets/nope/playback-ids", {"policy": "public"}),
             ("GET", "/video/v1/assets/nope/playback-ids/nope", None), ("DELETE", "/video/v1/assets/nope/playback-ids/nope", None),
             ("POST", "/video/v1/assets/nope/static-renditions", {"resolution": "highest"}),
             ("DELETE", "/video/v1/assets/nope/static-renditions/nope", None),
             ("PUT", "/video/v1/assets/nope/mp4-support", {"mp4_support": "standard"}),
             ("PUT", "/video/v1/assets/nope/master-access", {"master_access": "none"}),
             # Routes that do not exist at all.
             ("GET", "/video/v1/nothing", None), ("GET", "/video/v1/assets/nope/input-info", None)]
    s = session(onair)

    def run(method, path, body):
        r = call(s, onair, method, path, json=body)
        assert_error(r, 404, "not_found")

    check_all(cases, run)
    assert snapshot(onair) == before

    # Once deleted, a stream and its playback IDs are gone for every route.
    assert call(s, onair, "DELETE", f"{API}/{sid}").status_code == 204
    for method, path in [("GET", f"{API}/{sid}"), ("DELETE", f"{API}/{sid}"), ("GET", f"/video/v1/playback-ids/{pid}"),
                         ("PUT", f"{API}/{sid}/enable")]:
        assert_error(call(s, onair, method, path), 404, "not_found")


# (body, field named in the messages). Each is a complete create request that must be refused.
BAD_CREATE = [
    ({"reconnect_window": "abc"}, "reconnect_window"),
    ({"reconnect_window": True}, "reconnect_window"),
    ({"reconnect_window": -1}, "reconnect_window"),
    ({"reconnect_window": -0.001}, "reconnect_window"),
    ({"reconnect_window": 1800.5}, "reconnect_window"),
    ({"reconnect_window": 1e300}, "reconnect_window"),
    ({"max_continuous_duration": 59}, "max_continuous_duration"),
    ({"max_continuous_duration": 43201}, "max_continuous_duration"),
    ({"max_continuous_duration": 600.5}, "max_continuous_duration"),
    ({"max_continuous_duration": "600"}, "max_continuous_duration"),
    ({"max_continuous_duration": 2 ** 64}, "max_continuous_duration"),
    ({"latency_mode": "ultra"}, "latency_mode"),
    ({"latency_mode": 1}, "latency_mode"),
    ({"latency_mode": "Standard"}, "latency_mode"),
    ({"audio_only": "yes"}, "audio_only"),
    ({"audio_only": 1}, "audio_only"),
    ({"test": "false"}, "test"),
    ({"use_slate_for_standard_latency": "true"}, "use_slate_for_standard_latency"),
    ({"passthrough": 5}, "passthrough"),
    ({"passthrough": "x" * 256}, "passthrough"),
    ({"passthrough": ["x"]}, "passthrough"),
    ({"reconnect_slate_url": 5}, "reconnect_slate_url"),
    ({"meta": "title"}, "meta"),
    ({"meta": {"title": 5}}, "title"),
    ({"meta": {"title": "é" * 513}}, "title"),
    ({"playback_policies": ["drm"]}, "playback_polic"),
    ({"playback_policies": "drm"}, "playback_polic"),
    ({"playback_policies": ["public", "bogus"]}, "playback_polic"),
    ({"playback_policies": 5}, "playback_polic"),
    ({"playback_policies": [5]}, "playback_polic"),
    ({"playback_policies": {"policy": "public"}}, "playback_polic"),
    ({"playback_policy": "drm"}, "playback_polic"),
    ({"playback_policy": ["public", "drm"]}, "playback_polic"),
    ({"new_asset_settings": "public"}, "new_asset_settings"),
    ({"new_asset_settings": ["public"]}, "new_asset_settings"),
    ({"new_asset_settings": 1}, "new_asset_settings"),
    # One bad field among good ones still rejects the whole request.
    ({"playback_policies": ["public"], "passthrough": "ok", "reconnect_window": 5000}, "reconnect_window"),
]


def test_bad_create_bodies_are_400_naming_the_field_and_change_nothing(onair):
    make_stream(onair)
    before = snapshot(onair)
    s = session(onair)

    def run(body, field):
        r = call(s, onair, "POST", API, json=body)
        assert_error(r, 400, "invalid_parameters", mentions=field)
        assert snapshot(onair) == before, "a rejected create changed the database"

    check_all(BAD_CREATE, run)


def test_malformed_and_non_object_bodies_are_400(onair):
    stream = make_stream(onair)
    before = snapshot(onair)
    s = session(onair)
    json_type = {"Content-Type": "application/json"}
    bodies = [b"{", b"{\"reconnect_window\": }", b"not json", b"{\"a\": 1,}", b"\xff\xfe{}", b"[]", b"\"text\"", b"42",
              b"null", b"true", b"{\"reconnect_window\": 1} trailing"]
    targets = [("POST", API), ("PATCH", f"{API}/{stream['id']}"), ("POST", f"{API}/{stream['id']}/playback-ids")]

    def run(method, path, body):
        r = call(s, onair, method, path, data=body, headers=json_type)
        assert_error(r, 400, "invalid_parameters")
        assert snapshot(onair) == before

    check_all([(m, p, b) for m, p in targets for b in bodies], run)


def test_bodies_over_64_kib_are_413_and_just_under_are_accepted(onair):
    stream = make_stream(onair)
    s = session(onair)
    json_type = {"Content-Type": "application/json"}
    before = snapshot(onair)

    def padded(size, **fields):
        """A JSON object of exactly `size` bytes: the fields plus an ignored `padding` string."""
        base = json.dumps({**fields, "padding": ""}).encode()
        body = json.dumps({**fields, "padding": "x" * (size - len(base))}).encode()
        assert len(body) == size
        return body

    for method, path, fields in [("POST", API, {}), ("PATCH", f"{API}/{stream['id']}", {"passthrough": "big"}),
                                 ("POST", f"{API}/{stream['id']}/playback-ids", {"policy": "public"})]:
        for size in (LIMIT + 1, 2 * LIMIT):
            r = call(s, onair, method, path, data=padded(size, **fields), headers=json_type, timeout=30)
            assert_error(r, 413, "payload_too_large")
            assert snapshot(onair) == before, f"a {size}-byte {method} {path} changed the database"
    # Chunked, so the size is known only while reading.
    def chunks(body, size=8192):
        for i in range(0, len(body), size):
            yield body[i:i + size]
    r = call(s, onair, "POST", API, data=chunks(padded(2 * LIMIT)), headers=json_type, timeout=30)
    assert_error(r, 413, "payload_too_large")
    assert snapshot(onair) == before
    # Just under the limit is an ordinary request: unknown fields are ignored.
    created = data(call(s, onair, "POST", API, data=padded(LIMIT - 100, passthrough="near the limit"),
                        headers=json_type), 201)
    assert created["passthrough"] == "near the limit" and "padding" not in created
    assert data(call(s, onair, "PATCH", f"{API}/{stream['id']}", data=padded(LIMIT, passthrough="at the limit"),
                     headers=json_type), 200)["passthrough"] == "at the limit"


def test_valid_edge_values_are_accepted_and_echoed(onair):
    s = session(onair)
    cases = [
        ({}, {"reconnect_window": 60, "max_continuous_duration": 43200, "latency_mode": "standard", "playback_ids": []}),
        ({"reconnect_window": 0}, {"reconnect_window": 0}),
        ({"reconnect_window": 1800}, {"reconnect_window": 1800}),
        ({"reconnect_window": 2.5}, {"reconnect_window": 2.5}),
        ({"max_continuous_duration": 60}, {"max_continuous_duration": 60}),
        ({"max_continuous_duration": 43200}, {"max_continuous_duration": 43200}),
        ({"latency_mode": "low"}, {"latency_mode": "low"}),
        ({"latency_mode": "reduced"}, {"latency_mode": "reduced"}),
        ({"passthrough": "p" * 255}, {"passthrough": "p" * 255}),
        ({"passthrough": "ünïcødé ✓"}, {"passthrough": "ünïcødé ✓"}),
        ({"meta": {"title": "é" * 512}}, {"meta": {"title": "é" * 512}}),
        ({"audio_only": True, "test": True}, {"audio_only": True, "test": True}),
        ({"use_slate_for_standard_latency": True, "reconnect_slate_url": "https://example.com/slate.png"},
         {"use_slate_for_standard_latency": True, "reconnect_slate_url": "https://example.com/slate.png"}),
        ({"new_asset_settings": {"playback_policies": ["public"], "anything": {"nested": [1, 2]}}},
         {"new_asset_settings": {"playback_policies": ["public"], "anything": {"nested": [1, 2]}}}),
        ({"unknown_field": 1, "embedded_subtitles": "ignored"}, {}),
    ]
    created = []

    def run(body, expected):
        got = data(call(s, onair, "POST", API, json=body), 201)
        created.append(got["id"])
        for key, value in expected.items():
            assert got.get(key) == value, f"{key}: {got.get(key)!r} != {value!r}"
        assert "unknown_field" not in got
        assert data(call(s, onair, "GET", f"{API}/{got['id']}"), 200) == got

    check_all(cases, run)

    # Policies: one playback ID per policy, a bare string counts as one, the deprecated alias works.
    for body, policies in [({"playback_policies": "public"}, ["public"]), ({"playback_policies": ["public", "signed"]},
                           ["public", "signed"]), ({"playback_policy": ["signed"]}, ["signed"]),
                           ({"playback_policy": "public"}, ["public"]), ({"playback_policies": []}, [])]:
        got = data(call(s, onair, "POST", API, json=body), 201)
        assert sorted(p["policy"] for p in got["playback_ids"]) == policies, (body, got["playback_ids"])
        assert len({p["id"] for p in got["playback_ids"]}) == len(policies)
    # An empty body, with or without a JSON content type, is an empty create request.
    for headers in ({}, {"Content-Type": "application/json"}):
        got = data(call(s, onair, "POST", API, data=b"", headers=headers), 201)
        assert got["status"] == "idle" and got["playback_ids"] == []


# (PATCH body, field) refused on an existing stream.
BAD_UPDATE = [
    ({"reconnect_window": "abc"}, "reconnect_window"),
    ({"reconnect_window": 1801}, "reconnect_window"),
    ({"reconnect_window": -5}, "reconnect_window"),
    ({"max_continuous_duration": 10}, "max_continuous_duration"),
    ({"max_continuous_duration": 50000}, "max_continuous_duration"),
    ({"max_continuous_duration": "x"}, "max_continuous_duration"),
    ({"latency_mode": "fast"}, "latency_mode"),
    ({"passthrough": "y" * 256}, "passthrough"),
    ({"passthrough": 7}, "passthrough"),
    ({"use_slate_for_standard_latency": "no"}, "use_slate_for_standard_latency"),
    ({"reconnect_slate_url": False}, "reconnect_slate_url"),
    ({"meta": {"title": "t" * 513}}, "title"),
    ({"meta": []}, "meta"),
    ({"new_asset_settings": "x"}, "new_asset_settings"),
    ({"passthrough": "fine", "latency_mode": "nope"}, "latency_mode"),
]


def test_bad_updates_are_400_and_leave_the_stream_as_it_was(onair):
    stream = make_stream(onair, playback_policies=["public"], passthrough="original", reconnect_window=10,
                         meta={"title": "Original"}, new_asset_settings={"playback_policies": ["public"]})
    before = snapshot(onair)
    s = session(onair)

    def run(body, field):
        r = call(s, onair, "PATCH", f"{API}/{stream['id']}", json=body)
        assert_error(r, 400, "invalid_parameters", mentions=field)
        assert snapshot(onair) == before, "a rejected update changed the database"

    check_all(BAD_UPDATE, run)

    # A good PATCH changes only what it names; unknown and create-only fields are ignored.
    got = data(call(s, onair, "PATCH", f"{API}/{stream['id']}",
                    json={"passthrough": "", "reconnect_window": 0, "audio_only": True, "stream_key": "mine",
                          "status": "active", "id": "other"}), 200)
    assert got["id"] == stream["id"] and got["stream_key"] == stream["stream_key"] and got["status"] == "idle"
    assert got["reconnect_window"] == 0 and got["meta"] == {"title": "Original"}
    assert got["new_asset_settings"] == {"playback_policies": ["public"]}
    assert got.get("audio_only") in (None, False)
    assert got.get("passthrough") in (None, "")
    assert data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200) == got


def test_bad_list_queries_are_400(onair):
    make_stream(onair)
    s = session(onair)
    bad = [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "abc"}, {"limit": 1.5},
           {"limit": "10abc"}, {"page": 0}, {"page": -3}, {"page": "x"}, {"page": 2 ** 70}, {"status": "bogus"},
           {"status": "IDLE"}]

    def run(params):
        r = call(s, onair, "GET", API, params=params)
        assert_error(r, 400, "invalid_parameters", mentions=next(iter(params)))

    check_all([(p,) for p in bad], run)
    # Edges that are fine.
    for params, count in [({"limit": 1}, 1), ({"limit": 100}, 1), ({"page": 1}, 1), ({"page": 99}, 0),
                          ({"stream_key": "nope"}, 0), ({"status": "disabled"}, 0), ({"unknown": "x"}, 1)]:
        assert len(data(call(s, onair, "GET", API, params=params), 200)) == count, params


def test_bad_playback_id_requests_are_400(onair):
    stream = make_stream(onair)
    before = snapshot(onair)
    s = session(onair)
    path = f"{API}/{stream['id']}/playback-ids"

    def run(body):
        r = call(s, onair, "POST", path, json=body)
        assert_error(r, 400, "invalid_parameters", mentions="policy")
        assert snapshot(onair) == before

    check_all([({"policy": "drm"},), ({"policy": "bogus"},), ({"policy": 5},), ({"policy": None},),
               ({"policy": ["public"]},), ({"policy": "drm", "drm_configuration_id": "x"},)], run)


def test_playback_id_policy_is_optional_and_public_by_default(onair):
    # Mux's CreatePlaybackIDRequest has no required field: `{}` and an empty body both make a public ID.
    stream = make_stream(onair)
    s = session(onair)
    path = f"{API}/{stream['id']}/playback-ids"
    made = [data(call(s, onair, "POST", path, json={}), 201),
            data(call(s, onair, "POST", path, data=b"", headers={"Content-Type": "application/json"}), 201)]
    assert [p["policy"] for p in made] == ["public", "public"]
    listed = data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)["playback_ids"]
    assert {p["id"] for p in made} <= {p["id"] for p in listed}


def test_pages_far_beyond_the_last_are_empty_not_errors(onair):
    # No page limit Mux does not have: a page past the end is an empty list, one past Int64 is a 400.
    make_stream(onair)
    s = session(onair)
    assert data(call(s, onair, "GET", f"{API}?page=1000001&limit=100"), 200) == []
    assert data(call(s, onair, "GET", f"{API}?page=9223372036854775807&limit=100"), 200) == []
    assert_error(call(s, onair, "GET", f"{API}?page=9223372036854775808"), 400, "invalid_parameters", mentions="page")


def test_bodiless_actions_accept_an_empty_json_body(onair):
    """The SDK sends reset-stream-key, complete, enable and disable with Content-Type: application/json and no body."""
    stream = make_stream(onair)
    s = session(onair)
    json_type = {"Content-Type": "application/json"}
    reset = data(call(s, onair, "POST", f"{API}/{stream['id']}/reset-stream-key", data=b"", headers=json_type), 201)
    assert reset["stream_key"] != stream["stream_key"] and reset["id"] == stream["id"]
    for action, status in [("disable", "disabled"), ("enable", "idle"), ("complete", "idle")]:
        assert data(call(s, onair, "PUT", f"{API}/{stream['id']}/{action}", data=b"", headers=json_type), 200) == {}
        assert data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)["status"] == status
    # Disable twice and enable twice are no-ops, not errors.
    for action in ("disable", "disable", "enable", "enable"):
        assert data(call(s, onair, "PUT", f"{API}/{stream['id']}/{action}"), 200) == {}
    assert onair.get_stream(stream["id"])["status"] == "idle"
