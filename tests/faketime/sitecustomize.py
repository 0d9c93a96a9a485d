"""Loaded only by `make test-next-year`, which runs the suite under libfaketime.

Debian's libfaketime 0.9.10 makes `time.sleep` fail with EINVAL once the
monotonic clock is left real (FAKETIME_DONT_FAKE_MONOTONIC=1, needed because a
faked monotonic clock hangs every timed wait). Sleeping through `select` takes a
relative timeout and is unaffected.
"""

import select
import time


def _sleep(seconds: float) -> None:
    select.select([], [], [], seconds)


time.sleep = _sleep
