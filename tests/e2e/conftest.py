"""End-to-end harness: the real app in a subprocess, headless Chromium through Playwright, gradio_client.

Fixtures
    app_server   (session)  base URL ("http://127.0.0.1:PORT") of ``python app.py`` started from the repo root
    api_client   (session)  ``gradio_client.Client`` connected to ``app_server``
    browser      (session)  Playwright ``Browser`` (Debian's /usr/bin/chromium, headless)
    page         (function) a fresh ``Page`` (own context, 1400x1000 viewport); screenshot saved on failure
    screenshot   (function) the ``save_screenshot(page, name) -> Path`` helper below

Helpers (import with ``from .conftest import open_tab, wait_for_image``)
    save_screenshot(page, name)        full-page PNG at test-artifacts/screenshots/<name>.png
    open_tab(page, label)              click the top-level tab with that label and wait until it is selected
    wait_for_image(locator, timeout)   wait until the <img> inside a gr.Image block is served and decoded

Every test under tests/e2e is marked ``e2e``: ``python -m pytest -m "not e2e"`` skips them all.
Without Chromium or Playwright the browser tests skip, unless LATENT_STUDIO_REQUIRE_BROWSER=1 (CI), where
they fail. Overrides: LATENT_STUDIO_CHROMIUM (browser executable), LATENT_STUDIO_APP_URL (use an app
that is already running instead of starting one), LATENT_STUDIO_APP_TIMEOUT (seconds, default 180).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
E2E_DIR = Path(__file__).resolve().parent

CHROMIUM = os.environ.get("LATENT_STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    # Without these, headless Chromium keeps dialing Google services (refused in the sandbox / CI).
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    # Shared memory in /tmp, not /dev/shm (64 MB in a default Docker container: renderer crashes). Debian's
    # launcher means to add this itself when /dev/shm is small, but its check can misparse findmnt's output.
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1400, "height": 1000}  # wide enough that all eight app tabs fit (no "More tabs" overflow)
DEFAULT_TIMEOUT_MS = 30_000

# No telemetry from the in-process Gradio servers and gradio_client (their check is `arg or env == "True"`,
# so the keyword argument alone cannot turn it off).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end tests (browser / HTTP against a served app); "
                                       "deselect with -m 'not e2e'")


def pytest_collection_modifyitems(config, items):
    # This hook sees the whole session's items: mark only ours.
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)  # lets `page` know at teardown whether the test failed
    return report


def browser_required() -> bool:
    return os.environ.get("LATENT_STUDIO_REQUIRE_BROWSER", "") == "1"


def _unavailable(reason: str):
    if browser_required():
        pytest.fail(f"{reason} (LATENT_STUDIO_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "screenshot"


def save_screenshot(page, name: str) -> Path:
    """Full-page PNG at test-artifacts/screenshots/<name>.png; returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_slug(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def open_tab(page, label: str, timeout: float = 10_000):
    """Click a top-level Gradio tab by its exact label; returns the tab button once it is selected.

    Gradio 6 renders each tab label twice: a visually hidden measuring copy (plain <button>) and the real
    <button role="tab">, so select by role, never by text alone (strict-mode violation).
    """
    from playwright.sync_api import expect
    tab = page.get_by_role("tab", name=label, exact=True)
    tab.click(timeout=timeout)
    expect(tab).to_have_attribute("aria-selected", "true", timeout=timeout)
    return tab


def wait_for_image(block, timeout: float = 60_000):
    """Wait until a gr.Image block (a locator, e.g. ``page.locator("#my_elem_id")``) shows a served, decoded
    image; returns the <img> locator.

    The output <img> appears only once a value is set; its src is ``<root>/gradio_api/file=...``. The
    block's status tracker (``[data-testid=status-tracker]``) carries the class ``hide`` when idle.
    """
    from playwright.sync_api import expect
    img = block.locator("img").first
    expect(img).to_have_attribute("src", re.compile(r"gradio_api/file=|^data:image/"), timeout=timeout)
    img.scroll_into_view_if_needed(timeout=timeout)  # the <img> is loading="lazy": off-screen ones never load
    img.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle(),
                               timeout=timeout)
    return img


# ----------------------------------------------------------------------------------------------- app

def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _http_ok(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(url, timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return

    def signal_group(sig):  # the app's own process group (start_new_session): it and any children it made
        try:
            if os.name == "posix":
                os.killpg(proc.pid, sig)
            elif sig == signal.SIGTERM:
                proc.terminate()
            else:
                proc.kill()
        except ProcessLookupError:
            pass

    signal_group(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        signal_group(signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def app_server():
    """Base URL of ``python app.py --port P --host 127.0.0.1`` (log: test-artifacts/app-server.log)."""
    if os.environ.get("LATENT_STUDIO_APP_URL"):
        yield os.environ["LATENT_STUDIO_APP_URL"].rstrip("/")
        return
    timeout = float(os.environ.get("LATENT_STUDIO_APP_TIMEOUT", "180"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "app-server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "app.py", "--port", str(port), "--host", "127.0.0.1"]
    with open(log_path, "wb") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=(os.name == "posix"))
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with code {proc.returncode} before serving {url}; "
                            f"{log_path} ends with:\n{_tail(log_path)}", pytrace=False)
            if _http_ok(url + "/"):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer HTTP 200 at {url}/ within {timeout:.0f} s; "
                            f"{log_path} ends with:\n{_tail(log_path)}", pytrace=False)
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def api_client(app_server):
    """``gradio_client.Client`` for the served app (predict with ``api_name="/name"``)."""
    from gradio_client import Client
    return Client(app_server, verbose=False)


# ------------------------------------------------------------------------------------------- browser

@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    pw = sync_playwright().start()
    try:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - e.g. a Chromium too old or too new for this driver
            _unavailable(f"cannot launch {CHROMIUM} with Playwright: {exc}")
        yield browser
        browser.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    pg = context.new_page()
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        try:
            save_screenshot(pg, f"FAILED-{request.node.nodeid}")
        except Exception:  # noqa: BLE001 - a dead page must not hide the real failure
            pass
    context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name) -> Path``: full-page PNG at test-artifacts/screenshots/<name>.png."""
    return save_screenshot
