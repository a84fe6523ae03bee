"""Schemathesis generates valid and invalid requests from docs/openapi.yaml and checks the running server against it:
no server errors, every status code, content type, header and body as documented, invalid data rejected, and
credentials enforced. Nothing is excluded: every operation of the document is exercised."""
import os
import subprocess
import sys
from pathlib import Path

from api_helpers import API, call, data, session

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
CHECKS = ",".join([
    "not_a_server_error",            # no 5xx, whatever is sent
    "status_code_conformance",       # every status code returned is documented for that operation
    "content_type_conformance",      # and so is its Content-Type
    "response_headers_conformance",  # documented required headers (CORS, Cache-Control, Content-Range) are there
    "response_schema_conformance",   # bodies match LiveStream / PlaybackID / Error schemas
    "negative_data_rejection",       # data outside the schema (types, enums, ranges, lengths) gets a 4xx
    "ignored_auth",                  # operations with security refuse missing or wrong credentials with 401
])


def schemathesis_cli():
    st = Path(sys.executable).parent / "st"
    assert st.exists(), f"schemathesis is not installed next to {sys.executable} (Tests/EndToEndTests/requirements.txt)"
    return str(st)


def test_server_conforms_to_the_openapi_document(onair, tmp_path):
    # Some data to find: a stream with a public and a signed playback ID (the stateful phase makes more).
    data(call(session(onair), onair, "POST", API, json={"playback_policies": ["public", "signed"]}), 201)
    user, secret = onair.write_token
    cmd = [schemathesis_cli(), "run", str(SPEC),
           "--url", onair.base_url,
           "--auth", f"{user}:{secret}",
           "--tls-verify", str(onair.certificate),
           "--checks", CHECKS,
           "--mode", "all",                 # valid and invalid data
           "--phases", "examples,coverage,fuzzing,stateful",
           "--max-examples", "20",
           "--seed", "20240601",            # the same cases every run
           "--workers", "1",
           "--request-timeout", "10",
           "--no-color",
           "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml")]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"schemathesis did not finish within 600 s:\n{(e.stdout or b'')[-8000:]!r}")
    report = out.stdout + out.stderr
    assert out.returncode == 0, f"schemathesis found problems (exit {out.returncode}):\n{report[-20000:]}\n" \
        f"server log tail:\n{onair.log_text()[-4000:]}"
    # It really ran: every operation of the document was tested.
    assert "No operations" not in report, report[-4000:]
    assert onair.process.poll() is None, f"onair died under schemathesis:\n{onair.log_text()[-4000:]}"
