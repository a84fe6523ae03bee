"""Signed playback, as on Mux, against the real binary: signing keys through mux-python (SigningKeysApi on
/system/v1, the deprecated URLSigningKeysApi on /video/v1) and their permissions; RS256 playback tokens made
with PyJWT (not onair's code) play a live signed stream in ffmpeg and hls.js, kid in the JOSE header or in the
claims, through the grant path of the multivariant playlist and the 302 of the media playlist; every refusal
is a 403 `forbidden` naming its reason; a deleted key ends its tokens and grants at once; grants are bound to
their playback ID, key and expiry; tokens, grants and private keys never reach the log (each test ends
by checking its server's log); a signed asset playback ID; metrics off the HTTPS listener."""
import base64
import hashlib
import hmac
import json
import re
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import jwt
import m3u8
import mux_python
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mux_python.rest import NotFoundException

from api_helpers import API, assert_error, call, data, session
from conftest import finish, make_clip
from hlsjs import hlsjs_module, hlsjs_plays

KEYS = "/system/v1/signing-keys"
DEPRECATED_KEYS = "/video/v1/signing-keys"
PEM_HEADER = b"-----BEGIN RSA PRIVATE KEY-----"


# ---------------------------------------------------------------------------------------------------
# Helpers


@dataclass
class Key:
    id: str
    pem: bytes           # the private key's PEM, decoded from the answer's base64
    private_key: str     # the base64 as the server returned it


class Signer:
    """Signing keys made on one server and every token, grant and key made with them, so that a test can
    check at its end that none reached the server's log (which runs at debug level)."""

    def __init__(self, onair):
        self.onair = onair
        self.secrets = []

    def key(self, path=KEYS):
        created = data(call(session(self.onair), self.onair, "POST", path), 201)
        assert set(created) == {"id", "created_at", "private_key"}, created
        pem = base64.b64decode(created["private_key"], validate=True)
        self.remember(created["private_key"], pem.splitlines()[1].decode())  # and the PEM's first body line
        return Key(created["id"], pem, created["private_key"])

    def token(self, key, sub, *, kid="header", aud="v", exp=3600, **claims):
        """An RS256 JWT made with PyJWT. `exp` is seconds from now (None leaves it out), `aud` None leaves
        it out; `kid`: "header" (Mux's Elixir SDK), "claims" (its Node SDK), None, or a kid to put in the
        header."""
        payload = {"sub": sub, **claims}
        if aud is not None:
            payload["aud"] = aud
        if exp is not None:
            payload["exp"] = int(time.time()) + exp
        headers = {}
        if kid == "header":
            headers["kid"] = key.id
        elif kid == "claims":
            payload["kid"] = key.id
        elif kid is not None:
            headers["kid"] = kid
        return self.remember(jwt.encode(payload, key.pem, algorithm="RS256", headers=headers))

    def remember(self, *secrets):
        self.secrets += secrets
        return secrets[0]

    def assert_not_logged(self):
        log = self.onair.log_text()
        assert len(self.secrets) > 0
        # Short garbage ("abc", "..") is no secret: it turns up in random ids in the log by chance.
        leaked = [secret for secret in self.secrets if len(secret) >= 16 and secret in log]
        assert not leaked, f"{len(leaked)} of {len(self.secrets)} tokens, grants or keys reached the log: " \
            f"{[secret[:24] + '...' for secret in leaked]}"


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_json(value):
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def sdk(onair):
    """mux-python's SigningKeysApi (/system/v1) and URLSigningKeysApi (/video/v1) on onair.base_url."""
    cfg = mux_python.Configuration(host=onair.base_url)
    cfg.username, cfg.password = onair.write_token
    cfg.ssl_ca_cert = str(onair.certificate)
    client = mux_python.ApiClient(cfg)
    return mux_python.SigningKeysApi(client), mux_python.URLSigningKeysApi(client)


def get(onair, url, **kwargs):
    """One playback request; `url` is absolute, or a path on the plain-HTTP listener. No redirects followed."""
    if url.startswith("/"):
        url = onair.plain_url + url
    kwargs.setdefault("timeout", 10)
    kwargs.setdefault("allow_redirects", False)
    if url.startswith("https:"):
        kwargs.setdefault("verify", str(onair.certificate))
    return requests.get(url, **kwargs)


def assert_ok(r):
    assert r.status_code == 200, f"GET {r.url} -> {r.status_code}: {r.text[:500]}"
    return r


def assert_forbidden(r, mentions):
    """403 in Mux's error shape, type `forbidden`, a message containing `mentions`."""
    return assert_error(r, 403, "forbidden", mentions=mentions)


def signed_stream(onair, policies=("public", "signed"), **body):
    """A live stream with those playback policies; returns (stream, its public ID or None, its signed ID)."""
    stream = data(call(session(onair), onair, "POST", API,
                       json={"playback_policies": list(policies), "reconnect_window": 30, **body}), 201)
    ids = {p["policy"]: p["id"] for p in stream["playback_ids"]}
    assert sorted(ids) == sorted(policies), stream
    return stream, ids.get("public"), ids["signed"]


GRANT_URI = re.compile(r"(?P<pid>[A-Za-z0-9]+)/t/(?P<grant>(?P<exp>\d+)\.(?P<kid>[A-Za-z0-9]+)\.(?P<mac>[A-Za-z0-9_-]+))/index\.m3u8")


def grant_of(multivariant_text, pid):
    """The grant in the single variant URI of a multivariant playlist: a relative {pid}/t/{GRANT}/index.m3u8."""
    uris = [line for line in multivariant_text.splitlines() if line and not line.startswith("#")]
    assert len(uris) == 1, multivariant_text
    match = GRANT_URI.fullmatch(uris[0])
    assert match and match["pid"] == pid, f"variant URI {uris[0]!r} is not {pid}/t/EXP.KID.MAC/index.m3u8"
    return match


def wait_signed(onair, pid, token, segments=2, timeout=30):
    """Polls {pid}.m3u8?token= until 200 (412 until the stream is active), then the media playlist under
    its grant path until it lists `segments`; returns (grant match, media playlist URL, its text)."""
    deadline = time.monotonic() + timeout
    while (r := get(onair, f"/{pid}.m3u8", params={"token": token})).status_code != 200:
        assert r.status_code == 412, f"{pid}.m3u8?token= -> {r.status_code}: {r.text[:500]}"
        assert time.monotonic() < deadline, f"{pid}.m3u8 still 412 after {timeout} s"
        time.sleep(0.2)
    grant = grant_of(r.text, pid)
    media_url = urljoin(r.url, grant[0])
    while (r := get(onair, media_url)).status_code != 200 or r.text.count("#EXTINF") < segments:
        assert r.status_code == 200, f"{media_url} -> {r.status_code}: {r.text[:500]}"
        assert time.monotonic() < deadline, f"{media_url} has not {segments} segments after {timeout} s:\n{r.text}"
        time.sleep(0.2)
    return grant, media_url, r.text


def segment_names(text):
    names = [s.uri for s in m3u8.loads(text).segments]
    assert names and all("/" not in n and "?" not in n for n in names), f"segment URIs are not relative names: {names}"
    return names


def decoded_frames(url, ca_file=None, seconds=4):
    """ffmpeg decodes the first `seconds` of the video of an HLS URL; returns (frames, what it printed)."""
    tls = ["-ca_file", str(ca_file), "-tls_verify", "1"] if ca_file else []
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", *tls, "-i", url, "-t", str(seconds),
                          "-map", "0:v:0", "-f", "framecrc", "-"], capture_output=True, text=True, timeout=120)
    frames = sum(1 for line in out.stdout.splitlines() if line and not line.startswith("#"))
    return frames, out.stderr.strip() + ("" if out.returncode == 0 else f" (exit {out.returncode})")


def stopped(publisher):
    if publisher.poll() is None:
        publisher.kill()
        publisher.communicate()


# ---------------------------------------------------------------------------------------------------
# 1. Signing keys


def assert_rsa_2048(created):
    """A created key's private_key: the base64 of a PKCS#1 PEM of an RSA 2048 key, loadable by cryptography."""
    pem = base64.b64decode(created.private_key, validate=True)
    assert pem.startswith(PEM_HEADER + b"\n") and pem.rstrip().endswith(b"-----END RSA PRIVATE KEY-----"), pem[:80]
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048, key
    assert key.public_key().public_numbers().e == 65537
    return key


@pytest.mark.parametrize("which", ["system", "deprecated video"])
def test_sdk_creates_lists_gets_and_deletes_signing_keys(onair, which):
    system, deprecated = sdk(onair)
    if which == "system":
        create, lister, getter, delete = (system.create_signing_key, system.list_signing_keys,
                                          system.get_signing_key, system.delete_signing_key)
    else:
        create, lister, getter, delete = (deprecated.create_url_signing_key, deprecated.list_url_signing_keys,
                                          deprecated.get_url_signing_key, deprecated.delete_url_signing_key)
    assert lister().data == []

    # Create (201: a SigningKeyResponse, None would mean another status), the private key once.
    first, second = create(), create()
    assert first is not None and second is not None, "create returned None: the server did not answer 201"
    for created in (first.data, second.data):
        assert created.id and created.created_at.isdigit() and abs(int(created.created_at) - time.time()) < 60, created
        assert_rsa_2048(created)
    assert first.data.id != second.data.id and first.data.private_key != second.data.private_key

    # List: newest first, pages; no private keys.
    listed = lister()
    assert [k.id for k in listed.data] == [second.data.id, first.data.id]
    assert all(k.private_key is None for k in listed.data), listed
    assert [k.id for k in lister(limit=1, page=1).data] == [second.data.id]
    assert [k.id for k in lister(limit=1, page=2).data] == [first.data.id]
    assert lister(limit=1, page=3).data == []

    # Get: the key without its private key.
    got = getter(first.data.id).data
    assert (got.id, got.created_at, got.private_key) == (first.data.id, first.data.created_at, None)
    raw = data(call(session(onair), onair, "GET", f"{KEYS if which == 'system' else DEPRECATED_KEYS}/{first.data.id}"), 200)
    assert raw == {"id": first.data.id, "created_at": first.data.created_at}, raw

    # Delete: 204 (None), then 404 for get and delete; the other key stays.
    assert delete(first.data.id) is None
    with pytest.raises(NotFoundException):
        getter(first.data.id)
    with pytest.raises(NotFoundException):
        delete(first.data.id)
    assert [k.id for k in lister().data] == [second.data.id]
    with pytest.raises(NotFoundException):
        getter("doesnotexist")

    # Both paths see the same keys.
    assert [k.id for k in system.list_signing_keys().data] == [second.data.id]
    assert [k.id for k in deprecated.list_url_signing_keys().data] == [second.data.id]


def test_signing_keys_need_system_permissions_and_credentials(onair):
    key = data(call(session(onair), onair, "POST", KEYS), 201)
    reader, anonymous, stranger = session(onair, "read"), session(onair, None), session(onair, ("e2e-write", "wrong"))
    requests_ = [("POST", KEYS), ("GET", KEYS), ("GET", f"{KEYS}/{key['id']}"), ("DELETE", f"{KEYS}/{key['id']}")]
    # The read token has video:read only: no system:read for GET, no system:write for POST and DELETE.
    for method, path in requests_:
        assert_error(call(reader, onair, method, path), 403, "forbidden")
        assert_error(call(anonymous, onair, method, path), 401, "unauthorized")
        assert_error(call(stranger, onair, method, path), 401, "unauthorized")
    # The deprecated /video/v1 aliases need System permissions too, as on Mux (a key signs for every signed ID).
    assert_error(call(reader, onair, "GET", DEPRECATED_KEYS), 403, "forbidden")
    assert_error(call(reader, onair, "POST", DEPRECATED_KEYS), 403, "forbidden")
    assert_error(call(reader, onair, "DELETE", f"{DEPRECATED_KEYS}/{key['id']}"), 403, "forbidden")
    assert_error(call(anonymous, onair, "GET", DEPRECATED_KEYS), 401, "unauthorized")
    # Nothing was made or deleted by the refused requests.
    assert [k["id"] for k in data(call(session(onair), onair, "GET", KEYS), 200)] == [key["id"]]
    # The API is not on the plain-HTTP listener.
    r = requests.post(onair.plain_url + KEYS, auth=onair.write_token, timeout=10)
    assert r.status_code == 404, f"plain HTTP POST {KEYS} -> {r.status_code}: {r.text[:300]}"
    assert key["private_key"] not in onair.log_text()


# ---------------------------------------------------------------------------------------------------
# 2. PyJWT tokens play a live signed stream


def test_pyjwt_tokens_play_a_live_signed_stream_in_ffmpeg(onair):
    signer = Signer(onair)
    key = signer.key()
    stream, public, pid = signed_stream(onair)
    publisher = onair.publish(make_clip("av", 30), stream)
    try:
        header_token = signer.token(key, pid)
        grant, media_url, text = wait_signed(onair, pid, header_token, segments=3)
        # The grant carries the token's key and its expiry with the 30 s of skew already added; the media
        # playlist lists relative names under it.
        claims = jwt.decode(header_token, options={"verify_signature": False})
        assert (int(grant["exp"]), grant["kid"]) == (claims["exp"] + 30, key.id), grant[0]
        signer.remember(grant["grant"])
        names = segment_names(text)
        assert not m3u8.loads(text).is_endlist, text
        segment = assert_ok(get(onair, urljoin(media_url, names[0])))
        assert segment.content == (onair.hls_dir / stream["id"] / names[0]).read_bytes()
        assert segment.content[0] == 0x47 and segment.headers["Content-Type"] == "video/mp2t"

        # (a) kid in the header, over HTTPS with the test CA: ffmpeg decodes 4 s of frames.
        frames, errors = decoded_frames(f"{onair.base_url}/{pid}.m3u8?token={header_token}", ca_file=onair.certificate)
        assert errors == "" and frames >= 110, (frames, errors)

        # (b) kid in the claims (no kid header), over plain HTTP.
        claims_token = signer.token(key, pid, kid="claims")
        assert "kid" not in jwt.get_unverified_header(claims_token)
        frames, errors = decoded_frames(f"{onair.plain_url}/{pid}.m3u8?token={claims_token}")
        assert errors == "" and frames >= 110, (frames, errors)

        # A key made through the deprecated /video/v1 path signs tokens as well.
        old = signer.key(DEPRECATED_KEYS)
        old_grant = grant_of(assert_ok(get(onair, f"/{pid}.m3u8", params={"token": signer.token(old, pid)})).text, pid)
        assert old_grant["kid"] == old.id
        signer.remember(old_grant["grant"])

        # The media playlist with a token: 302 to its grant path, whose segments play.
        r = get(onair, f"/{pid}/index.m3u8", params={"token": header_token})
        assert r.status_code == 302, f"{pid}/index.m3u8?token= -> {r.status_code}: {r.text[:300]}"
        location = r.headers["Location"]
        match = re.fullmatch(rf"/{pid}/t/([^/?]+)/index\.m3u8", location)
        assert match and match[1] == grant["grant"], f"Location {location!r}, the multivariant's grant {grant['grant']}"
        followed = get(onair, location)
        assert_ok(followed)
        names = segment_names(followed.text)
        for name in names[-2:]:
            assert assert_ok(get(onair, f"/{pid}/t/{match[1]}/{name}")).content[0] == 0x47
        # ... also on HTTPS (the Location is a path on the same listener).
        r = get(onair, f"{onair.base_url}/{pid}/index.m3u8", params={"token": header_token})
        assert r.status_code == 302 and r.headers["Location"] == location, (r.status_code, r.headers)
        assert_ok(get(onair, onair.base_url + location))

        # Any file may carry the token itself.
        direct = assert_ok(get(onair, f"/{pid}/{names[-1]}", params={"token": claims_token}))
        assert direct.content == (onair.hls_dir / stream["id"] / names[-1]).read_bytes()

        # The public ID of the same stream plays without a token, the same segments.
        assert_ok(get(onair, f"/{public}.m3u8"))
        assert assert_ok(get(onair, f"/{public}/{names[-1]}")).content == direct.content
    finally:
        stopped(publisher)
    signer.assert_not_logged()


def test_hlsjs_plays_a_signed_low_latency_stream_through_its_grant_path(onair):
    module = hlsjs_module()
    signer = Signer(onair)
    key = signer.key()
    stream, _, pid = signed_stream(onair, policies=("signed",), latency_mode="low")
    publisher = onair.publish(make_clip("av", 40), stream)
    try:
        token = signer.token(key, pid)
        grant, _, _ = wait_signed(onair, pid, token, segments=1)
        signer.remember(grant["grant"])
        # hlsjs_plays loads {base}/{pid}.m3u8: the token goes in as "{pid}.m3u8?token=...#", so that the
        # ".m3u8" it appends becomes a fragment, which no request carries.
        state, requested = hlsjs_plays(onair.base_url, f"{pid}.m3u8?token={token}#", module, seconds=4)
    finally:
        stopped(publisher)
    assert state["fatal"] == [] and state["width"] == 1280, state
    assert state["lowLatencyMode"] and state["parts"] > 0, state
    # The token went on the first request only; everything after went under the grant path, with LL-HLS
    # blocking reloads and parts.
    mine = [urlsplit(u) for u in requested if urlsplit(u).path.startswith(f"/{pid}")]
    assert mine[0].path == f"/{pid}.m3u8" and mine[0].query == f"token={token}", mine[0]
    under_grant = [u for u in mine[1:] if u.path.startswith(f"/{pid}/t/{grant['grant']}/")]
    assert under_grant == mine[1:], [u.geturl() for u in mine[1:] if u not in under_grant]
    assert not any("token=" in u.query for u in mine[1:]), "the token was sent again after the multivariant playlist"
    assert any("_HLS_msn=" in u.query for u in under_grant), [u.geturl() for u in under_grant]
    assert any(re.search(r"-p\d+\.m4s$", u.path) for u in under_grant), [u.geturl() for u in under_grant]
    signer.assert_not_logged()


# ---------------------------------------------------------------------------------------------------
# 3. Refusals


def hand_token(header, payload, signature=b""):
    return f"{b64url_json(header)}.{b64url_json(payload)}.{b64url(signature)}"


def refused(onair, signer, token, mentions, path):
    """`token` (None: none) on `path` (on the plain-HTTP listener, or an absolute URL): 403 `forbidden`
    with a message containing `mentions`."""
    params = {} if token is None else {"token": signer.remember(token)}
    return assert_forbidden(get(onair, path, params=params), mentions)


def passes(onair, signer, token, path):
    """`token` gets past signing on `path` of an idle stream: 412, the stream is not active."""
    assert_error(get(onair, path, params={"token": signer.remember(token)}), 412, "stream_not_active")


def test_bad_tokens_are_refused_with_their_reason(onair):
    """On an idle stream: a token that passes answers 412 (the stream is not active), one that does not
    answers 403 with its reason; signing is checked before the stream's state."""
    signer = Signer(onair)
    key, other = signer.key(), signer.key()
    _, public, pid = signed_stream(onair)
    _, _, elsewhere = signed_stream(onair, policies=("signed",))
    now = int(time.time())

    def refuse(token, mentions, *, base=onair.plain_url, path=f"/{pid}.m3u8"):
        return refused(onair, signer, token, mentions, base + path)

    def accept(token, path=f"/{pid}.m3u8"):
        passes(onair, signer, token, path)

    accept(signer.token(key, pid))
    accept(signer.token(key, pid, kid="claims"))
    accept(signer.token(key, elsewhere), path=f"/{elsewhere}.m3u8")
    for base in (onair.plain_url, onair.base_url):
        for path in (f"/{pid}.m3u8", f"/{pid}/index.m3u8", f"/{pid}/any-0.ts"):
            refuse(None, "a token is required", base=base, path=path)
            refuse(signer.token(key, pid, exp=-120), "(exp)", base=base, path=path)

    # exp and nbf: required, and 30 s of clock skew either way.
    refuse(signer.token(key, pid, exp=-120), "the token has expired (exp)")
    refuse(signer.token(key, pid, exp=-45), "(exp)")
    accept(signer.token(key, pid, exp=-10))
    refuse(signer.token(key, pid, exp=None), "the token has no expiry (exp)")
    refuse(signer.token(key, pid, nbf=now + 120), "(nbf)")
    accept(signer.token(key, pid, nbf=now + 10))
    refuse(jwt.encode({"sub": pid, "aud": "v", "exp": "tomorrow"}, key.pem, algorithm="RS256",
                       headers={"kid": key.id}), "the token is not a well-formed JWT")

    # aud is "v" for video; other Mux audiences (t thumbnails, g gifs, s storyboards) or none are refused.
    for aud in ("t", "g", "s", "video", ["t"]):
        refuse(signer.token(key, pid, aud=aud), "(aud)")
    refuse(signer.token(key, pid, aud=None), "(aud)")

    # sub: a token for the stream's public ID, another stream's signed ID, or none.
    refuse(signer.token(key, public, exp=600), "the token is for another playback ID (sub)")
    refuse(signer.token(key, elsewhere), "(sub)")
    refuse(signer.token(key, pid.lower() if pid != pid.lower() else pid.upper()), "(sub)")
    refuse(jwt.encode({"aud": "v", "exp": now + 600}, key.pem, algorithm="RS256", headers={"kid": key.id}), "(sub)")

    # kid: unknown, missing, or a real key's id on a token the other key signed.
    refuse(signer.token(key, pid, kid="NoSuchKeyAtAll0123456789abcdefgh"), "the token's signing key (kid) is unknown")
    refuse(signer.token(key, pid, kid=None), "(kid)")
    refuse(signer.token(other, pid, kid=key.id), "the token's signature is not valid for its signing key")

    # Tampering: this playback ID's payload under the signature of a valid token for the other stream;
    # that token with a byte of its signature flipped.
    good = signer.token(key, elsewhere).split(".")
    mine = b64url_json({"sub": pid, "aud": "v", "exp": now + 600, "kid": key.id})
    refuse(f"{good[0]}.{mine}.{good[2]}", "the token's signature is not valid")
    signature = bytearray(base64.urlsafe_b64decode(good[2] + "=="))
    signature[10] ^= 1
    refuse(f"{good[0]}.{good[1]}.{b64url(bytes(signature))}", "the token's signature is not valid",
           path=f"/{elsewhere}.m3u8")

    # Malformed.
    for garbage in ("abc", "a.b.c", "..", good[0] + "." + good[1], "%%%.%%%.%%%", "x" * 5000):
        refuse(garbage, "the token is not a well-formed JWT")

    # A token on a public playback ID, even a valid one for it; unknown IDs stay 404 with a token.
    refuse(signer.token(key, public), "public playback IDs take no token", path=f"/{public}.m3u8")
    refuse(signer.token(key, public), "public playback IDs take no token", path=f"/{public}/index.m3u8")
    assert get(onair, "/unknownplaybackid.m3u8", params={"token": signer.token(key, "unknownplaybackid")}).status_code == 404
    assert get(onair, f"/{public}.m3u8").status_code == 412
    signer.assert_not_logged()


def test_only_rs256_is_accepted(onair):
    """Tokens signed with anything but RS256, or not signed at all, are refused as such (on an idle
    stream, where an RS256 token answers 412)."""
    signer = Signer(onair)
    key = signer.key()
    _, _, pid = signed_stream(onair, policies=("signed",))
    path = f"/{pid}.m3u8"
    claims = {"sub": pid, "aud": "v", "exp": int(time.time()) + 600}
    passes(onair, signer, jwt.encode(claims, key.pem, algorithm="RS256", headers={"kid": key.id}), path)

    # HS256 keyed with the public key's PEM (the key-confusion attack), in both PEM forms.
    public_key = serialization.load_pem_private_key(key.pem, None).public_key()
    for public_pem in (public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
                       public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)):
        header = b64url_json({"alg": "HS256", "typ": "JWT", "kid": key.id})
        signing_input = f"{header}.{b64url_json(claims)}"
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        refused(onair, signer, f"{signing_input}.{b64url(mac)}", "the token must be signed with RS256", path)
    # Other RSA algorithms with the right key.
    for alg in ("RS384", "RS512", "PS256"):
        refused(onair, signer, jwt.encode(claims, key.pem, algorithm=alg, headers={"kid": key.id}), "RS256", path)
    # alg none with some signature bytes, then an unsecured JWT as RFC 7519 section 6.1 writes it (the
    # third part empty): both are tokens that are not RS256, not malformed ones.
    unsigned = {"alg": "none", "typ": "JWT", "kid": key.id}
    refused(onair, signer, hand_token(unsigned, claims, b"x"), "the token must be signed with RS256", path)
    refused(onair, signer, hand_token(unsigned, claims), "the token must be signed with RS256", path)
    signer.assert_not_logged()


def test_grants_and_segments_are_bound_to_their_playback_id_key_and_expiry(onair):
    signer = Signer(onair)
    key, other = signer.key(), signer.key()
    a, a_public, a_pid = signed_stream(onair)
    b, _, b_pid = signed_stream(onair, policies=("signed",))
    publishers = [onair.publish(make_clip("av", 30), a), onair.publish(make_clip("av", 30), b)]
    try:
        a_token, b_token = signer.token(key, a_pid), signer.token(key, b_pid)
        a_grant, a_media, a_text = wait_signed(onair, a_pid, a_token)
        b_grant, b_media, b_text = wait_signed(onair, b_pid, b_token)
        # A token expired 24 s ago, inside the 30 s of skew: it plays, and its grant lasts as long as it
        # does, 6 s more (checked at the end).
        short_token = signer.token(key, a_pid, exp=-24)
        short = grant_of(assert_ok(get(onair, f"/{a_pid}.m3u8", params={"token": short_token})).text, a_pid)
        signer.remember(a_grant["grant"], b_grant["grant"], short["grant"])
        a_segments, b_segments = segment_names(a_text), segment_names(b_text)
        assert set(a_segments).isdisjoint(b_segments), (a_segments, b_segments)
        ga, gb = a_grant["grant"], b_grant["grant"]
        assert ga != gb
        assert_ok(get(onair, f"/{a_pid}/t/{ga}/{a_segments[0]}"))
        assert_ok(get(onair, f"/{a_pid}/t/{short['grant']}/index.m3u8"))

        # Without a token or grant: neither the media playlist nor a segment (over both listeners).
        for base in (onair.plain_url, onair.base_url):
            for path in (f"/{a_pid}/index.m3u8", f"/{a_pid}/{a_segments[0]}"):
                assert_forbidden(get(onair, base + path), "a token is required")
        # The public ID of the same stream plays without one.
        assert_ok(get(onair, f"/{a_public}.m3u8"))
        assert_ok(get(onair, f"/{a_public}/index.m3u8"))
        assert_ok(get(onair, f"/{a_public}/{a_segments[0]}"))
        assert_forbidden(get(onair, f"/{a_public}/t/{ga}/index.m3u8"), "public playback IDs take no token")

        # Stream A's grant or token on stream B's signed ID and segments: refused.
        for name in ("index.m3u8", b_segments[0]):
            assert_forbidden(get(onair, f"/{b_pid}/t/{ga}/{name}"), "the playback grant in this URL is not valid")
            assert_forbidden(get(onair, f"/{b_pid}/{name}", params={"token": a_token}), "(sub)")
        # B's own grant does not reach A's files (names are per stream): 404, not A's bytes.
        r = get(onair, f"/{b_pid}/t/{gb}/{a_segments[0]}")
        assert r.status_code == 404, f"B's grant with A's segment {a_segments[0]} -> {r.status_code}"

        # Garbled grants: a changed MAC, expiry or key, truncation, junk.
        exp, kid, mac = ga.split(".")
        flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
        for bad in (f"{exp}.{kid}.{flipped}", f"{int(exp) + 3600}.{kid}.{mac}", f"{exp}.{other.id}.{mac}",
                    f"{exp}.{kid}", f"{exp}.{kid}.", f"{exp}.{kid}.{mac[:-4]}", "garbage", f"{exp}.{kid}.{mac}.x",
                    f"{exp}.{kid}.{mac}x", f"-1.{kid}.{mac}", "0.0.0"):
            for name in ("index.m3u8", a_segments[0]):
                assert_forbidden(get(onair, f"/{a_pid}/t/{bad}/{name}"), "the playback grant in this URL is not valid")

        # A deleted key: its token worked, its grant worked; after DELETE neither does, at once.
        doomed = signer.key()
        doomed_token = signer.token(doomed, a_pid)
        doomed_grant = grant_of(assert_ok(get(onair, f"/{a_pid}.m3u8", params={"token": doomed_token})).text, a_pid)["grant"]
        signer.remember(doomed_grant)
        segment = segment_names(assert_ok(get(onair, f"/{a_pid}/t/{doomed_grant}/index.m3u8")).text)[-1]
        assert_ok(get(onair, f"/{a_pid}/t/{doomed_grant}/{segment}"))
        assert_ok(get(onair, f"/{a_pid}/{segment}", params={"token": doomed_token}))
        assert call(session(onair), onair, "DELETE", f"{KEYS}/{doomed.id}").status_code == 204
        assert_forbidden(get(onair, f"/{a_pid}.m3u8", params={"token": doomed_token}), "(kid) is unknown or was deleted")
        assert_forbidden(get(onair, f"/{a_pid}/{segment}", params={"token": doomed_token}), "(kid)")
        assert_forbidden(get(onair, f"/{a_pid}/index.m3u8", params={"token": doomed_token}), "(kid)")
        for name in ("index.m3u8", segment):
            assert_forbidden(get(onair, f"/{a_pid}/t/{doomed_grant}/{name}"), "(kid) is unknown or was deleted")
        # The other keys' tokens and grants are untouched.
        assert_ok(get(onair, f"/{a_pid}/t/{ga}/index.m3u8"))
        assert_ok(get(onair, f"/{a_pid}.m3u8", params={"token": a_token}))

        # The short token's grant: valid until the token's exp + 30 s (the grant's EXP), then refused like
        # the token.
        time.sleep(max(0.0, int(short["exp"]) + 1 - time.time()))
        assert_forbidden(get(onair, f"/{a_pid}.m3u8", params={"token": short_token}), "the token has expired (exp)")
        assert_forbidden(get(onair, f"/{a_pid}/t/{short['grant']}/index.m3u8"), "the token has expired (exp)")
        assert_forbidden(get(onair, f"/{a_pid}/t/{short['grant']}/{segment}"), "the token has expired (exp)")
        assert_ok(get(onair, f"/{a_pid}/t/{ga}/index.m3u8"))
    finally:
        for publisher in publishers:
            stopped(publisher)
    signer.assert_not_logged()


# ---------------------------------------------------------------------------------------------------
# 4. A signed asset playback ID


def test_a_signed_asset_playback_id_plays_only_with_a_token(onair):
    signer = Signer(onair)
    key = signer.key()
    s = session(onair)
    stream, _, live_pid = signed_stream(onair, policies=("signed",), reconnect_window=0, new_asset_settings={
        "playback_policies": ["signed"], "static_renditions": [{"resolution": "highest"}]})
    code, err = finish(onair.publish(make_clip("av", 8), stream))
    assert code == 0, err
    asset_id = data(call(s, onair, "GET", f"{API}/{stream['id']}"), 200)["active_asset_id"]
    assert asset_id, "no asset recorded"
    deadline = time.monotonic() + 60
    while not ((asset := data(call(s, onair, "GET", f"/video/v1/assets/{asset_id}"), 200))["is_live"] is False
               and asset["status"] == "ready" and asset["static_renditions"]["status"] == "ready"):
        assert time.monotonic() < deadline, f"asset not completed with its rendition after 60 s: {asset}"
        time.sleep(0.3)
    assert [p["policy"] for p in asset["playback_ids"]] == ["signed"], asset["playback_ids"]
    pid = asset["playback_ids"][0]["id"]
    assert pid != live_pid

    # Without a token, or with the live stream's token: 403 on every file.
    live_token = signer.token(key, live_pid)
    for path in (f"/{pid}.m3u8", f"/{pid}/index.m3u8", f"/{pid}/highest.mp4"):
        assert_forbidden(get(onair, path), "a token is required")
        assert_forbidden(get(onair, path, params={"token": live_token}), "(sub)")

    # With its token: the VOD playlist under the grant path, its segments, highest.mp4, ffmpeg decodes it.
    token = signer.token(key, pid, kid="claims")
    grant = grant_of(assert_ok(get(onair, f"/{pid}.m3u8", params={"token": token})).text, pid)
    signer.remember(grant["grant"])
    media = assert_ok(get(onair, f"/{pid}/t/{grant['grant']}/index.m3u8")).text
    playlist = m3u8.loads(media)
    assert playlist.is_endlist and playlist.playlist_type == "vod", media
    for name in segment_names(media):
        assert assert_ok(get(onair, f"/{pid}/t/{grant['grant']}/{name}")).content == \
            (onair.recordings_dir / asset_id / name).read_bytes()
    r = get(onair, f"/{pid}/index.m3u8", params={"token": token})
    assert r.status_code == 302 and r.headers["Location"] == f"/{pid}/t/{grant['grant']}/index.m3u8", r.headers
    movie = assert_ok(get(onair, f"/{pid}/highest.mp4", params={"token": token})).content
    assert movie[4:8] == b"ftyp" and movie == (onair.recordings_dir / asset_id / "highest.mp4").read_bytes()
    assert assert_ok(get(onair, f"/{pid}/t/{grant['grant']}/highest.mp4")).content == movie
    frames, errors = decoded_frames(f"{onair.base_url}/{pid}.m3u8?token={token}", ca_file=onair.certificate, seconds=60)
    assert errors == "" and frames == 8 * 30, (frames, errors)
    signer.assert_not_logged()


# ---------------------------------------------------------------------------------------------------
# 5. Metrics


def test_metrics_are_on_their_own_listener_not_https(onair):
    for auth in (None, onair.write_token):
        r = requests.get(onair.base_url + "/metrics", auth=auth, verify=str(onair.certificate), timeout=10)
        assert r.status_code == 404, f"HTTPS /metrics -> {r.status_code}: {r.text[:300]}"
    r = requests.get(onair.plain_url + "/metrics", timeout=10)
    assert r.status_code == 404, f"plain HTTP playback /metrics -> {r.status_code}: {r.text[:300]}"
    r = requests.get(onair.metrics_url, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain"), (r.status_code, r.headers)
    lines = r.text.splitlines()
    assert any(line.startswith("# TYPE onair_http_requests_total counter") for line in lines), r.text[:2000]
    assert any(line.startswith("onair_active_publishers") for line in lines), r.text[:2000]
