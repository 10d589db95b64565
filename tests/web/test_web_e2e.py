"""The drawing pad end to end: `digits serve` in a subprocess, driven by a real Chromium.

The browser draws a "1" (a vertical stroke) and a "0" (an ellipse) with the mouse
and, at phone width, a "1" with a finger; the page must show the network's
answers and a non-empty 28×28 preview.  Screenshots and the page's own
stroke-to-result measurements go to test-artifacts/ (no timed assertions here;
the numbers are for reading).
"""

from __future__ import annotations

import json
import math
import re
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[web]'")
import httpx2  # noqa: E402

from neuraldigits.modelfile import save  # noqa: E402
from neuraldigits.network import Network  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PAD = 280  # the drawing canvas, CSS pixels, at desktop width


@contextmanager
def serving(model: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run `digits serve MODEL --port 0`; yield its URL (read from its first line) and process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "neuraldigits.cli", "serve", str(model), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=60)
        line = process.stdout.readline() if ready else ""
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"`digits serve` did not start: {line!r} {process.stderr.read()!r}"
        yield match.group(0), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        process.stderr.close()


def test_digits_serve_answers_until_interrupted(tmp_path):
    path = save(Network([784, 30, 10], seed=0), tmp_path / "model.npz")
    with serving(path) as (url, process):
        assert httpx2.get(url + "api/model").json()["sizes"] == [784, 30, 10]
        reply = httpx2.post(url + "api/predict", json=[0.0] * 784)
        assert reply.status_code == 200 and len(reply.json()["hidden"]) == 30
        assert "<canvas" in httpx2.get(url).text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0  # Ctrl-C is a clean stop


# ---------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def trained_model(mnist, tmp_path_factory) -> Path:
    """A 784-30-10 network trained the book's way for a few epochs (about 93 % on test)."""
    training, validation, test = mnist
    net = Network([784, 30, 10], seed=7)
    history = net.sgd(training, 4, 10, 3.0, test_data=test)
    settings = {"epochs": 4, "mini_batch_size": 10, "eta": 3.0, "seed": 7}
    return save(
        net, tmp_path_factory.mktemp("web") / "model.npz", training=settings, history=history
    )


@pytest.fixture(scope="module")
def url(trained_model) -> Iterator[str]:
    """The pad served by `digits serve` for the trained model, shared by the browser tests."""
    with serving(trained_model) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"end-to-end test: no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def vertical_stroke(x=140, top=40, bottom=240):
    return [(x, top + (bottom - top) * i / 20) for i in range(21)]


def ellipse(cx=140, cy=140, rx=65, ry=100):
    return [
        (cx + rx * math.sin(2 * math.pi * t / 48), cy - ry * math.cos(2 * math.pi * t / 48))
        for t in range(49)
    ]


class Pad:
    """The page, seen through the browser: draw, read the answer, measure."""

    def __init__(self, page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_function("document.querySelectorAll('#outputs li').length === 10")

    def draw_with_mouse(self, points) -> None:
        box = self.page.locator("#pad").bounding_box()
        scale = box["width"] / PAD
        mouse = self.page.mouse
        mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
        mouse.down()
        for x, y in points[1:]:
            mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        mouse.up()

    def draw_with_finger(self, points) -> None:
        box = self.page.locator("#pad").bounding_box()
        scale = box["width"] / PAD
        cdp = self.page.context.new_cdp_session(self.page)
        for i, (x, y) in enumerate(points):
            kind = "touchStart" if i == 0 else "touchMove"
            spot = {"x": box["x"] + x * scale, "y": box["y"] + y * scale}
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [spot]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    def wait_for_results(self, n: int) -> None:
        """Until the n-th stroke's result is on screen (the page's own measure)."""
        self.page.wait_for_function(
            f"performance.getEntriesByName('stroke-to-result').length >= {n}"
        )

    def digit(self) -> str:
        return self.page.locator("#digit").text_content()

    def preview_ink(self) -> int:
        """How many of the 28×28 preview's pixels hold any ink."""
        return self.page.evaluate(
            """() => {
              const data = document.getElementById('preview').getContext('2d')
                .getImageData(0, 0, 28, 28).data;
              let inked = 0;
              for (let i = 0; i < data.length; i += 4) if (data[i + 3] && data[i] < 255) inked++;
              return inked;
            }"""
        )

    def latencies(self) -> list[float]:
        return self.page.evaluate(
            "performance.getEntriesByName('stroke-to-result').map(e => e.duration)"
        )

    def server_times(self) -> list[float]:
        return self.page.evaluate(
            """performance.getEntriesByType('resource')
                 .filter(e => e.name.endsWith('/api/predict') && e.serverTiming.length)
                 .map(e => e.serverTiming[0].duration)"""
        )


def test_draw_a_one_and_a_zero(url, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    # Playwright's wait_for_function evaluates a string, which the page's CSP forbids.
    context = browser.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)
    pad = Pad(context.new_page())
    pad.open(url)
    assert (
        "% right on the 10,000 MNIST test digits"
        in pad.page.locator("#model-summary").text_content()
    )
    assert pad.page.locator("#hidden .cell").count() == 30

    pad.draw_with_mouse(vertical_stroke())
    pad.wait_for_results(1)
    assert pad.digit() == "1"
    assert pad.preview_ink() > 20
    assert pad.page.locator("#outputs li.best .label").text_content() == "1"

    pad.page.keyboard.press("Escape")  # clear by keyboard
    assert pad.digit() == "–" and pad.preview_ink() == 0

    pad.draw_with_mouse(ellipse())
    pad.wait_for_results(2)
    assert pad.digit() == "0"
    assert pad.preview_ink() > 40

    pad.page.locator("#hidden .cell").nth(4).hover()
    pad.page.wait_for_function(
        "document.getElementById('weights-caption').textContent.startsWith('Hidden neuron 4')"
    )
    # The weight picture's colours are digits plot's (RdBu_r): the neuron's strongest
    # exciting pixel is drawn red, its strongest inhibiting one blue.
    excites, inhibits = pad.page.evaluate(
        """async () => {
            const w = (await (await fetch('/api/hidden/4')).json()).weights;
            const canvas = document.getElementById('weights').getContext('2d');
            const rgb = i => Array.from(canvas.getImageData(i % 28, Math.floor(i / 28), 1, 1).data);
            return [rgb(w.indexOf(Math.max(...w))), rgb(w.indexOf(Math.min(...w)))];
        }"""
    )
    assert excites[0] > max(excites[1:3]) and inhibits[2] > max(inhibits[0:2])
    pad.page.screenshot(path=ARTIFACTS / "web-pad.png", full_page=True)

    # More strokes, for a fairer latency figure than two.
    for i, stroke in enumerate([vertical_stroke(), ellipse()] * 2):
        pad.page.locator("#clear").click()
        pad.draw_with_mouse(stroke)
        pad.wait_for_results(3 + i)
        assert pad.digit() == ("1" if i % 2 == 0 else "0")
    latencies, server = pad.latencies(), pad.server_times()
    assert pad.errors == []
    context.close()

    report = {
        "stroke_to_result_ms": [round(t, 1) for t in latencies],
        "median_ms": round(sorted(latencies)[len(latencies) // 2], 1),
        "server_predict_ms": [round(t, 1) for t in server],
    }
    (ARTIFACTS / "web-latency.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nstroke-to-result latency (ms): {report}")


def test_draw_with_a_finger_at_phone_width(url, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, bypass_csp=True
    )
    pad = Pad(context.new_page())
    pad.open(url)
    pad.draw_with_finger(vertical_stroke())
    pad.wait_for_results(1)
    assert pad.digit() == "1"
    assert pad.preview_ink() > 20
    # Nothing sticks out sideways: the page fits the phone without scrolling across.
    assert pad.page.evaluate("document.documentElement.scrollWidth") <= 390
    pad.page.screenshot(path=ARTIFACTS / "web-pad-phone.png", full_page=True)
    assert pad.errors == []
    context.close()
