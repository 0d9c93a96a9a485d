"""A multi-process survey client (standard library only, loopback only).

Every client process opens the survey page for its CSRF token and session cookie,
then POSTs like a person would: a wrong submission (422), the right one (303), a
replay (409). In "bursts" every process holds the same link and they POST at the
same instant (a multiprocessing.Barrier), as a double click or two browser tabs
would: exactly one may be accepted.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
TIMEOUT = 30  # seconds per request: every request is bounded
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
#: What the "already received" page says (the POSTs ask for English pages).
ALREADY = "We already have your answers"


@dataclass
class Outcome:
    """One POST: which link, what kind of attempt, the status, whether the page was
    the "already received" one, and how long it took."""

    token: str
    kind: str  # invalid | valid | replay | burst
    status: int
    already: bool
    seconds: float


@dataclass
class Plan:
    """What one client process does."""

    port: int
    aspects: tuple[str, ...]
    normal: list[str]  # links answered invalid -> valid -> replays
    replays: dict[str, int] = field(default_factory=dict)  # extra replays per link
    bursts: list[str] = field(default_factory=list)  # links every process POSTs at once


def answers(aspects: tuple[str, ...], valid: bool, n: int) -> list[tuple[str, str]]:
    score = str(1 + n % 5)
    pairs = [(f"score_{code}", score) for code in aspects]
    if score in ("1", "2"):
        pairs += [("reasons_delivery", "delivery"), ("why_delivery", f"第 {n} 次: 太慢")]
    pairs.append(("comment", f"load <b>{n}</b> =1+1"))
    return pairs if valid else pairs[1:]  # invalid: the first score is missing


class Session:
    """One browser: its cookie jar (the session cookie) and the page's CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""
        self.csrf = ""

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
        headers = {"Connection": "close", "Accept-Language": "zh-CN"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(HOST, self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie" and value.startswith("session="):
                    self.cookie = value.split(";", 1)[0]
            return resp.status, text
        finally:
            conn.close()

    def open(self, token: str) -> int:
        status, html = self._request("GET", f"/s/{token}")
        match = _CSRF.search(html)
        self.csrf = match.group(1) if match else ""
        return status

    def post(self, token: str, pairs: list[tuple[str, str]]) -> tuple[int, str, float]:
        body = urllib.parse.urlencode([("csrf_token", self.csrf), *pairs]).encode()
        start = time.perf_counter()
        status, text = self._request("POST", f"/s/{token}?lang=en", body)
        return status, text, time.perf_counter() - start


def run_plan(plan: Plan, barrier: Any, results: Any, index: int) -> None:
    """The body of one client process; puts a list of Outcome tuples on `results`."""
    outcomes: list[tuple[str, str, int, bool, float]] = []
    errors: list[str] = []
    try:
        for n, token in enumerate(plan.normal):
            browser = Session(plan.port)
            if browser.open(token) != 200:
                errors.append(f"GET {token} failed")
                continue
            for kind, valid in [("invalid", False), ("valid", True)] + [("replay", True)] * (
                1 + plan.replays.get(token, 0)
            ):
                status, text, seconds = browser.post(token, answers(plan.aspects, valid, n))
                outcomes.append((token, kind, status, ALREADY in text, seconds))
        for n, token in enumerate(plan.bursts):
            browser = Session(plan.port)
            opened = browser.open(token)
            barrier.wait(timeout=120)  # every process holds this link: go together
            if opened != 200:
                errors.append(f"GET {token} failed with {opened}")
                continue
            status, text, seconds = browser.post(token, answers(plan.aspects, True, n + index))
            outcomes.append((token, "burst", status, ALREADY in text, seconds))
    except Exception as exc:  # report, don't hang the parent
        errors.append(repr(exc))
        barrier.abort()
    results.put((index, outcomes, errors))
