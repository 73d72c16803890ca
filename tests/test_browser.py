"""JupyterLab in a real browser: `make lab` as the README says, notebook 01 run in quick mode, figures seen.

Notebook 01 runs under nbval in `make test` too; this classroom test (`make test-classroom`) runs it as a
student would, and checks what nbval checks: every cell runs without an error (a failed `expect` is
one), and the outputs of the cells tagged nbval-check-output match the committed ones.

The server gets a free local port and prints its own token; headless Chromium (Debian's package,
never a downloaded browser) is driven by Playwright. Notebook 01 is run from a copy in a temporary
folder with autosave off, so the committed notebook is never touched. A screenshot is saved under
outputs/browser/. Skipped only where no Chromium is installed (`make test-classroom` installs it on
Debian/Ubuntu when it can: as root, or with password-less sudo).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers.config import output_path
from tests.browsing import CHROMIUM, CHROMIUM_FLAGS
from tools.course import ROOT
from tools.machine import free_port

NOTEBOOK = "01_autoencoder.ipynb"
SETTINGS = {  # JupyterLab user settings for the test's server
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                   "autoStartDefaultKernel": True},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}
START_TIMEOUT = 180  # seconds
RUN_TIMEOUT = int(os.environ.get("COURSE_BROWSER_TIMEOUT", "600"))

pytestmark = [pytest.mark.classroom, pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: `sudo apt-get install chromium`")]


@pytest.fixture
def jupyterlab(tmp_path):
    """`make lab` on a copy of notebook 01; yields the URL of that notebook, token included."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = json.loads((ROOT / "notebooks" / NOTEBOOK).read_text())
    for cell in nb["cells"]:  # a fresh start: every output the test sees comes from the browser's run
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    (notebooks / NOTEBOOK).write_text(json.dumps(nb))
    for name, values in SETTINGS.items():
        path = tmp_path / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**os.environ, "COURSE_QUICK": "1", "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    port = free_port()
    command = ["make", "-s", "lab", f"PORT={port}", f"NOTEBOOK_DIR={notebooks}"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(server.stdout), daemon=True).start()
    try:
        url = None
        deadline = time.monotonic() + START_TIMEOUT
        while url is None and time.monotonic() < deadline and server.poll() is None:
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", "".join(log))
            url = found and f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={found.group(1)}"
            time.sleep(0.5)
        assert url, "JupyterLab did not print its URL with a token:\n" + "".join(log)[-3000:]
        yield url, log
    finally:
        with contextlib.suppress(ProcessLookupError):  # the server may have died already: say why, above
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


PROMPTS = """() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'),
                                   p => p.textContent.trim())"""
OUTPUT_OF_CELL = """k => Array.from(
    document.querySelectorAll('.jp-CodeCell')[k].querySelectorAll('.jp-OutputArea-output'),
    o => o.textContent).join('')"""
ERRORS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type$="stderr"]'),
                                  o => o.textContent)
                      .filter(t => /Traceback|^\\w*(Error|Exception)\\b/m.test(t))"""
IMAGES_SETTLED = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output img'))
                      .every(i => i.complete)"""


def checked_outputs(notebook: Path) -> dict[int, str]:
    """Committed text output of each code cell tagged nbval-check-output, by its index among code cells."""
    code = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    return {k: "".join("".join(o.get("text", "")) for o in c["outputs"]) for k, c in enumerate(code)
            if "nbval-check-output" in c["metadata"].get("tags", [])}


def test_notebook_01_runs_in_jupyterlab_in_a_real_browser(jupyterlab):
    from playwright.sync_api import sync_playwright

    url, server_log = jupyterlab
    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.goto(url)
        page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=START_TIMEOUT * 1000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator, .jp-KernelStatus", timeout=60_000)
        select_kernel = page.locator(".jp-Dialog button", has_text="Select")
        if select_kernel.count():  # older JupyterLab may still ask which kernel to start
            select_kernel.click()
        # run only once the kernel is up: on a busy machine it can take a while to start
        page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for(timeout=START_TIMEOUT * 1000)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

        deadline, prompts, errors = time.monotonic() + RUN_TIMEOUT, [], []
        while time.monotonic() < deadline:
            time.sleep(2)
            prompts, errors = page.evaluate(PROMPTS), page.evaluate(ERRORS)
            if errors or (prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)):
                break
        checked = {k: (text, page.evaluate(OUTPUT_OF_CELL, k))
                   for k, text in checked_outputs(ROOT / "notebooks" / NOTEBOOK).items()}
        page.wait_for_function(IMAGES_SETTLED, timeout=30_000)  # decoded (or broken): naturalWidth is final
        images = page.locator(".jp-OutputArea-output img")
        widths = images.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
        if widths:
            images.last.scroll_into_view_if_needed()
        screenshot = output_path("browser") / f"{Path(NOTEBOOK).stem}.png"
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
        browser.close()

    assert not errors, f"error output in the browser:\n{errors[0][-2000:]}"
    logs = "\n".join(["server:", *"".join(server_log).splitlines()[-40:], "browser:", *console[-40:]])
    ran = prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
    assert ran, f"cells did not all run: {prompts}\n{logs}"
    assert len(widths) >= 4 and min(widths) > 100, f"figures missing or empty: widths {widths}"
    assert checked, "notebook 01 has cells whose output nbval would compare"
    for k, (committed, shown) in checked.items():
        assert shown.strip() == committed.strip(), f"code cell {k}: {shown!r} != committed {committed!r}"
    assert screenshot.stat().st_size > 10_000
