"""hls.js in Chromium, for the tests and bench/player_latency.py.

hls.js 1.6.15 as gradio's wheel ships it (PyPI is reachable here, npm is not): an ES module whose export
`t(video, url, onParsed)` makes an Hls with lowLatencyMode on, loads `url` and attaches `video`. The page is
served from the stream's own origin through Playwright's request routing, so no cross-origin or
local-network rule interferes.
"""
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from conftest import CLIP_DIR, made_once, require

GRADIO = "gradio==6.31.0"
HLSJS_ASSET = re.compile(r"gradio/templates/frontend/assets/hls-[^/]+\.js")


def hlsjs_module():
    """hls.js's ES module from gradio's wheel (pip download), cached under CLIP_DIR."""
    path = CLIP_DIR / f"hlsjs-{GRADIO.replace('==', '-')}.mjs"
    with made_once(path.name):
        if not path.exists():
            with tempfile.TemporaryDirectory() as d:
                subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                                GRADIO, "-d", d], check=True, timeout=600)
                with zipfile.ZipFile(next(Path(d).glob("gradio-*.whl"))) as wheel:
                    names = [n for n in wheel.namelist() if HLSJS_ASSET.fullmatch(n)]
                    assert len(names) == 1, names
                    path.with_suffix(".tmp").write_bytes(wheel.read(names[0]))
            path.with_suffix(".tmp").rename(path)
    return path.read_bytes()


HLSJS_PAGE = """<!doctype html><video id=v muted autoplay playsinline></video>
<script type=module>
import { t as attach } from "/hlsjs-test/hls.mjs";
const video = document.getElementById("v");
window.state = { fatal: [], errors: [], start: null };  // start: currentTime when playback began
video.addEventListener("playing", () => { if (state.start === null) state.start = video.currentTime; });
window.hls = attach(video, "%s", () => video.play().catch(() => {}));
hls.on("hlsError", (_, e) => (e.fatal ? state.fatal : state.errors).push(e.details));
</script>"""


STATE = """(() => {
    const v = document.getElementById('v'), d = hls.levels[0] && hls.levels[0].details;
    const playlists = performance.getEntriesByType('resource').filter(e => e.name.includes('.m3u8'));
    return { currentTime: v.currentTime, start: state.start, width: v.videoWidth, latency: hls.latency,
             targetLatency: hls.targetLatency, lowLatencyMode: hls.lowLatencyMode,
             behindCamera: hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : null,
             protocols: [...new Set(playlists.map(e => e.nextHopProtocol))],
             canBlockReload: d && d.canBlockReload, partHoldBack: d && d.partHoldBack,
             parts: d && d.partList ? d.partList.length : 0, fatal: state.fatal, errors: state.errors };
})()"""


def hlsjs_plays(base, pid, module, seconds=4, timeout_ms=30000, samples=0):
    """hls.js plays {base}/{pid}.m3u8 in Chromium from a page of the same origin; returns what it reports
    after `seconds` of playback (and checks that playback goes on) and the URLs it requested. With
    `samples`, the state is also read once a second that many times more (state["samples"]).
    `behindCamera`: now minus the PROGRAM-DATE-TIME of the frame on screen (the server stamps frames
    with the wall clock at ingest, so this is the publish delay plus hls.js's distance from the edge)."""
    require("chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require("chromium"),
                                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                                          "--ignore-certificate-errors"])
        try:
            page = browser.new_context(ignore_https_errors=True).new_page()
            requested = []
            page.on("request", lambda r: requested.append(r.url))
            page.route(f"{base}/hlsjs-test.html",
                       lambda route: route.fulfill(body=HLSJS_PAGE % f"{base}/{pid}.m3u8", content_type="text/html"))
            page.route(f"{base}/hlsjs-test/hls.mjs",
                       lambda route: route.fulfill(body=module, content_type="text/javascript"))
            page.goto(f"{base}/hlsjs-test.html")
            played = "document.getElementById('v').currentTime - state.start"
            page.wait_for_function(f"state.start !== null && {played} > {seconds}", timeout=timeout_ms)
            state = page.evaluate(STATE)
            page.wait_for_function(f"{played} > {seconds + 2}", timeout=timeout_ms)
            state["samples"] = []
            for _ in range(samples):
                page.wait_for_timeout(1000)
                state["samples"].append(page.evaluate(STATE))
            return state, requested
        finally:
            browser.close()
