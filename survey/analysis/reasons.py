"""How often each reason was given, as shares of a group: the reasons behind
dissatisfied answers (drill-down) and behind defections."""

from __future__ import annotations

from dataclasses import dataclass

from survey.analysis.filters import Interval
from survey.scale import ReasonCode
from survey.statistics import wilson_interval


@dataclass(frozen=True, slots=True)
class ReasonShare:
    """How often a reason was given: `share` = count / the group's size (0..1)."""

    reason: str
    count: int
    share: float
    #: The group's size `share` is a part of (0 when unknown).
    of: int = 0

    @property
    def share_interval(self) -> Interval:
        """95% Wilson interval of `share`."""
        return wilson_interval(self.count, self.of) if self.of >= self.count else None


def reason_order(code: str) -> tuple[int, str]:
    """A reason's place in the vocabulary (survey.scale.ReasonCode); others after it,
    by code, and "" (none recorded) last."""
    codes = ReasonCode.codes()
    if code in codes:
        return (codes.index(code), code)
    return (len(codes) + (1 if code == "" else 0), code)


def reason_shares(counts: dict[str, int], total: int) -> list[ReasonShare]:
    """Each reason's count as a share of `total`: most given first, ties in vocabulary order."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], reason_order(item[0])))
    return [ReasonShare(reason, n, n / total if total else 0.0, total) for reason, n in ordered]
