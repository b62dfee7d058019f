"""report.html: built from a results folder, self-contained, and rendered in headless Chromium
(Debian's chromium, driven by playwright) without external requests or console errors."""

from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner

from trialsim.api import run_to_folder
from trialsim.cli import main

from .conftest import scenario_dict, subset

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    data = scenario_dict()  # with the bundled fwer target (power is under a truth left out)
    run_to_folder(subset(data, truths=["no_effect"]), folder, n_trials=40, seed=3, keep_history=True)
    result = CliRunner().invoke(main, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    return folder / "report.html"


def test_report_holds_every_section_and_no_external_reference(report):
    text = report.read_text()
    for heading in ("Provenance", "The scenario in words", "Key operating characteristics", "Targets",
                    "Design comparison", "Figures", "Glossary", "All operating characteristics"):
        assert f">{heading}</h2>" in text
    assert "<td>seed</td><td>3</td>" in text
    assert text.count('<img src="data:image/png;base64,') >= 6  # stopping, ECDF, arms, forest, allocation, convergence
    # nothing that a browser would fetch: no src/href to another resource than an in-page anchor or data URI
    assert not re.findall(r"""(?:src|href)=["'](?!data:|#)""", text)
    assert "@import" not in text and "url(" not in text


def test_report_renders_in_headless_chromium(report, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    requests, problems = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(report.as_uri(), wait_until="load")
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert len(images) >= 6 and all(done and width > 0 for done, width, _ in images), images
    external = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert external == [] and problems == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
