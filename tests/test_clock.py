"""One clock: tests move it, and no other code reads the real one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from survey import clock

from .conftest import TEST_NOW

ROOT = Path(__file__).resolve().parent.parent
REAL_CLOCK = re.compile(r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time)\(")


def test_tests_start_at_test_now(now):
    assert now == TEST_NOW
    assert timedelta(0) <= clock.utcnow() - TEST_NOW < timedelta(minutes=5)
    assert clock.today() == TEST_NOW.date()


def test_travel_ticks_on_and_comes_back():
    later = datetime(2030, 2, 1, 23, 30, tzinfo=UTC)
    with clock.travel_to(later):
        first = clock.utcnow()
        assert timedelta(0) <= first - later < timedelta(seconds=5)
        assert clock.utcnow() >= first
        assert clock.today() == later.date()
        # 07:30 the next day in Shanghai
        assert clock.today(ZoneInfo("Asia/Shanghai")).isoformat() == "2030-02-02"
    assert clock.utcnow() - TEST_NOW < timedelta(minutes=5)


def test_travel_needs_an_aware_time():
    with pytest.raises(ValueError, match="aware"), clock.travel_to(datetime(2030, 1, 1)):
        pass


@pytest.mark.parametrize("package", ["survey", "web", "schema"])
def test_only_the_clock_module_reads_the_real_clock(package):
    readers = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "survey" / "clock.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if REAL_CLOCK.search(line)
    ]
    assert readers == [], "read survey.clock instead"
