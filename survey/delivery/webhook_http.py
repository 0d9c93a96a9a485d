"""One POST of a webhook: 5 s time-out, no redirects followed, at most 1 KB of the
answer kept, and whether a failure is worth retrying."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from survey.models import RESPONSE_BODY_LIMIT

TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """What an endpoint answered: its status (None when none came), how long it took,
    the start of its body, and the error when it was not a success."""

    status: int | None
    ms: int
    body: str | None
    error: str | None
    retry: bool

    @property
    def ok(self) -> bool:
        return self.error is None


# --- posting ---------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Answer a 3xx as an error instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def _body_start(raw: bytes | None) -> str | None:
    if not raw:
        return None
    return raw[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")[:RESPONSE_BODY_LIMIT]


def post_json(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_SECONDS
) -> HttpOutcome:
    """POST `body` to `url`; never raises for what the network or the receiver does."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        with _OPENER.open(request, timeout=timeout) as response:
            raw = response.read(RESPONSE_BODY_LIMIT)
            return HttpOutcome(response.status, elapsed(), _body_start(raw), None, False)
    except urllib.error.HTTPError as exc:
        code = exc.code
        try:
            raw = exc.read(RESPONSE_BODY_LIMIT)
        except (OSError, http.client.HTTPException):
            raw = None
        finally:
            exc.close()
        if 300 <= code < 400:
            where = exc.headers.get("Location", "") if exc.headers else ""
            error = f"HTTP {code}: redirect to {where[:200]!r} not followed"
        else:
            error = f"HTTP {code}"
        retry = code >= 500 or code in (408, 429)
        return HttpOutcome(code, elapsed(), _body_start(raw), error, retry)
    except TimeoutError:
        return HttpOutcome(None, elapsed(), None, f"no answer within {timeout:g} s", True)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return HttpOutcome(None, elapsed(), None, f"no answer within {timeout:g} s", True)
        return HttpOutcome(None, elapsed(), None, f"connection failed: {reason}", True)
    except (OSError, http.client.HTTPException) as exc:
        return HttpOutcome(None, elapsed(), None, f"connection failed: {exc}", True)


__all__ = ["TIMEOUT_SECONDS", "HttpOutcome", "post_json"]
