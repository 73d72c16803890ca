"""Headless Chromium for the browser tests: Debian's package (never a downloaded one), driven by Playwright.

`serve(folder)` serves a built site on a free local port; `browser_page` opens pages and records every
request, so that a test can assert that nothing left the machine. `axe_audit` checks the open page for
WCAG 2.1 A and AA violations with axe-core (npm, pinned), injected from a local file.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from helpers.config import output_path
from tools import npm
from tools.machine import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_SCHEMES = ("data", "blob", "about")
AXE_VERSION = "4.14.1"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]  # WCAG 2.1, levels A and AA
SERIOUS = ("serious", "critical")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no access log on the test's output
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 while the block runs; yields its base URL (ends with /)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def leaves_the_machine(url: str) -> bool:
    """True for a request to anywhere but this machine (data: and blob: URLs stay here)."""
    parts = urlsplit(url)
    return parts.scheme not in LOCAL_SCHEMES and parts.hostname not in ("127.0.0.1", "localhost")


@contextlib.contextmanager
def browser_page(viewport: tuple[int, int] = (1280, 900)):
    """A Playwright page in headless Chromium; yields (page, requests), requests being every URL asked for.

    Requests that would leave the machine are recorded and aborted, so a test sees them at once.
    """
    from playwright.sync_api import sync_playwright

    requests: list[str] = []

    def record(route) -> None:
        requests.append(route.request.url)
        if leaves_the_machine(route.request.url):
            route.abort()
        else:
            route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.route("**/*", record)
            yield page, requests
        finally:
            browser.close()


def install_axe() -> Path:
    """axe-core from the npm registry into outputs/axe/vendor (once); returns its axe.min.js."""
    modules = npm.install_packages(output_path("axe", "vendor"), {"axe-core": AXE_VERSION},
                                   "the accessibility audit")
    return modules / "axe-core" / "axe.min.js"


def axe_audit(page, axe_js: Path, *, exclude: list[str] | None = None) -> list[dict]:
    """axe-core's WCAG 2.1 A and AA violations on the open page: [{id, impact, help, targets}] per rule.

    axe.min.js is injected from the local file (no request); `exclude` lists CSS selectors left out
    of the audit (each one a documented exception, see docs/accessibility.md).
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_js))
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    run = ("([exclude, options]) => axe.run(exclude.length ? {exclude: exclude.map(s => [s])} : document,"
           " options).then(r => r.violations)")
    violations = page.evaluate(run, [exclude or [], options])
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "targets": [" ".join(map(str, node["target"])) for node in v["nodes"]]} for v in violations]


def serious_violations(violations: dict[str, list[dict]]) -> list[str]:
    """A line per serious or critical violation in {page: axe_audit(...)}: rule, impact, nodes, targets."""
    return [f"{name}: {v['id']} ({v['impact']}, {len(v['targets'])} nodes: {v['help']}) e.g. "
            + ", ".join(v["targets"][:3])
            for name, found in violations.items() for v in found if v["impact"] in SERIOUS]
