"""The report as people see it: opened in a real browser (Debian's Chromium, headless), every
figure renders and nothing is wider than the page, on a desktop and on a phone-sized window.

A copy of the report gets a script at its end that measures the laid-out page and writes the
result into the DOM, which ``--dump-dom`` prints; the report itself has no script. A copy
without the report's layout rules is measured too: the check must see what it is there to see.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from survey.analysis import stats
from survey.analysis.report import build_sections, write_report
from survey.dataset.schema import rows_to_table
from tests.analysis.test_stats import ROWS

CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(  # slow: a headless browser per test
    CHROMIUM is None, reason="Debian's chromium is missing: `make test` installs it "
    "(system-deps, through .ci/apt-install)")]

#: Measures the page once it is laid out (at the end of <body>: the DOM above is complete).
PROBE = """<script>
(() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (e) => ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
  const figures = [...document.querySelectorAll(".figure")].map((f) => {
    const svg = f.querySelector("svg");
    const box = svg ? svg.getBoundingClientRect() : {left: 0, right: 0, width: 0, height: 0};
    return {width: box.width, height: box.height, right: box.right,
            marks: svg ? svg.querySelectorAll("path, rect, line, text").length : 0};
  });
  const overflowing = [...document.body.querySelectorAll("*")].filter((e) => {
    if (e.getBoundingClientRect().right <= width + 0.5) return false;
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      if (scrolls(p) && p.getBoundingClientRect().right <= width + 0.5) return false;
    }
    return true;
  }).map((e) => e.tagName.toLowerCase() + (e.getAttribute("class") ? "." +
    e.getAttribute("class") : ""));
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({width, page: document.documentElement.scrollWidth,
                                    figures, overflowing: overflowing.slice(0, 20)});
  document.body.appendChild(out);
})();
</script>"""


def measure(page: Path, width: int, profile: Path) -> dict[str, Any]:
    """The probe's findings for ``page`` in a ``width``-pixel-wide headless Chromium."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--no-first-run", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", f"--window-size={width},900",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, (done.returncode, done.stderr[-2000:])
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The report of a small dataset with long names and many mistakes (wide tables)."""
    root = tmp_path_factory.mktemp("browser")
    rows = [dict(r) for r in ROWS]
    rows[0] = {**rows[0], "domain": "a-rather-long-subdomain-label." * 4 + "example"}
    (root / "run" / "parts").mkdir(parents=True)
    pq.write_table(rows_to_table(rows), root / "run" / "parts" / "part-1.parquet")
    path, _ = write_report(root / "run", root / "report.html")
    figures = sum(1 for s in build_sections(stats.load(root / "run")) if s.figure_svg)
    return path, figures


def probed(page: Path, target: Path, *, strip_layout: bool = False) -> Path:
    text = page.read_text()
    if strip_layout:  # the report as it was before: no scrolling containers, fixed-size SVG
        text = re.sub(r"<style>.*?</style>", "<style>table{border-collapse:collapse}</style>",
                      text, flags=re.S)
    target.write_text(text.replace("</body>", PROBE + "</body>"))
    return target


@pytest.mark.parametrize("width", [1280, 420])
def test_every_figure_renders_and_nothing_overflows(report: tuple[Path, int], width: int,
                                                    tmp_path: Path) -> None:
    page, figures = report
    found = measure(probed(page, tmp_path / "probed.html"), width, tmp_path / "profile")
    assert found["overflowing"] == [] and found["page"] <= found["width"], found
    assert len(found["figures"]) == figures >= 6
    for figure in found["figures"]:
        assert figure["width"] > 100 and figure["height"] > 50, figure
        assert figure["marks"] > 5 and figure["right"] <= found["width"] + 0.5, figure


def test_the_check_sees_a_page_that_overflows(report: tuple[Path, int], tmp_path: Path) -> None:
    page, _ = report
    found = measure(probed(page, tmp_path / "bare.html", strip_layout=True), 420,
                    tmp_path / "profile")
    assert found["page"] > found["width"]
    assert any(e.startswith(("table", "svg")) for e in found["overflowing"]), found
