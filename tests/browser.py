"""What the browser tests share: Debian's chromium under playwright, the test app served
on loopback, and the skip rules (no browser, no playwright: skipped with the reason).

A browser test module calls `sync_api = require_browser()` at its top; conftest.py
offers the fixtures `browser` (one per module) and `live_server`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 20_000


def require_browser() -> ModuleType:
    """playwright's sync API; skips the calling module when chromium or playwright is
    missing (call it at module level)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no browser: {CHROMIUM} is missing (install it with `make browser`)",
            allow_module_level=True,
        )
    return pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright package is missing (pip install -e '.[dev]')",
    )


@pytest.fixture
def live_server(app: Any, database_url: str) -> Iterator[str]:
    """The test app on a free loopback port, served from a thread."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the browser tests run once, on SQLite")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module."""
    sync_api = require_browser()
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                # The browser keeps the real clock under `make test-next-year`
                # (libfaketime stalls chromium); what it shows comes from the app.
                env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"},
            )
        except sync_api.Error as exc:  # pragma: no cover - depends on the machine
            pytest.skip(f"chromium does not start under playwright: {exc}")
        try:
            yield launched
        finally:
            launched.close()


def shot(page: Any, name: str) -> None:
    """A full-page screenshot at tests/artifacts/<name>.png (git-ignored)."""
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
