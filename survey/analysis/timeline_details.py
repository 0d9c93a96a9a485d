"""What a timeline event says beyond its kind: `detail`, a short text in zh or en.

Labels come from survey.scale (aspects, the scale, reasons, contact roles, tiers);
the few connecting words are here, in both languages.
"""

from __future__ import annotations

import json
from typing import Any

from survey.scale import (
    ASPECTS_BY_CODE,
    OVERALL,
    TIER_LABELS,
    ContactRole,
    ReasonCode,
    Satisfaction,
    TimelineKind,
)

#: A note's text is cut to this many characters in `detail`.
NOTE_DETAIL_LENGTH = 80

_SEPARATOR = " · "
_TEXTS: dict[str, dict[str, str]] = {
    "owner": {"zh": "负责人：{}", "en": "Owner: {}"},
    "escalated_to": {"zh": "升级至 {}", "en": "Escalated to {}"},
    "root_cause": {"zh": "根本原因：{}", "en": "Root cause: {}"},
    "competitor": {"zh": "转向 {}", "en": "Went to {}"},
    "score": {"zh": "{aspect} {score} 分（{label}）", "en": "{aspect}: {score} ({label})"},
}


def _text(key: str, locale: str) -> str:
    return _TEXTS[key][locale]


def event_detail(kind: TimelineKind, row: Any, locale: str) -> str | None:
    """The detail of a row of the timeline's statement (its text_a/b/c and number
    columns, as each kind's SELECT fills them) in `locale` ("zh" or "en")."""
    if kind in (TimelineKind.INVITED, TimelineKind.OPENED):
        return _join(row.text_a, _person(row.text_b, row.text_c, locale))
    if kind is TimelineKind.RESPONDED:
        score = None
        if row.number is not None:
            score = _text("score", locale).format(
                aspect=ASPECTS_BY_CODE[OVERALL].label(locale),
                score=row.number,
                label=Satisfaction(row.number).label(locale),
            )
        return _join(row.text_a, score, _person(row.text_b, row.text_c, locale))
    if kind is TimelineKind.FOLLOW_UP_OPENED:
        return _text("owner", locale).format(row.text_a) if row.text_a else None
    if kind is TimelineKind.FOLLOW_UP_ESCALATED:
        return _text("escalated_to", locale).format(row.text_a) if row.text_a else None
    if kind is TimelineKind.FOLLOW_UP_RESOLVED:
        if not row.text_a:
            return None
        return _text("root_cause", locale).format(_code_label(ReasonCode, row.text_a, locale))
    if kind is TimelineKind.FOLLOW_UP_NOTE:
        note = " ".join((row.text_a or "").split())
        if len(note) > NOTE_DETAIL_LENGTH:
            note = note[: NOTE_DETAIL_LENGTH - 1] + "…"
        author = f"{row.text_b}: " if row.text_b and note else (row.text_b or "")
        return f"{author}{note}" or None
    if kind is TimelineKind.DEFECTED:
        reason = _code_label(ReasonCode, row.text_a, locale) if row.text_a else None
        went = _text("competitor", locale).format(row.text_b) if row.text_b else None
        return _join(reason, went)
    if kind is TimelineKind.TIER_CHANGED:
        return _tier_change(row.text_a, locale)
    return _person(row.text_b, row.text_c, locale)  # CONTACT_OPTED_OUT


def _person(name: str | None, role: str | None, locale: str) -> str | None:
    """ "王芳（采购）" / "Wang Fang (Purchaser)"; None for an invitation without a contact."""
    if not name and not role:
        return None
    role_label = _code_label(ContactRole, role, locale) if role else None
    if not name:
        return role_label
    if not role_label:
        return name
    return f"{name}（{role_label}）" if locale == "zh" else f"{name} ({role_label})"


def _tier_change(details: str | None, locale: str) -> str | None:
    try:
        values = json.loads(details or "{}")
    except ValueError:
        return None
    old, new = values.get("old"), values.get("new")
    if not old or not new:
        return None
    index = 1 if locale == "en" else 0
    return f"{TIER_LABELS.get(old, (old, old))[index]} → {TIER_LABELS.get(new, (new, new))[index]}"


def _code_label(enum: type[ReasonCode] | type[ContactRole], code: str, locale: str) -> str:
    try:
        return enum(code).label(locale)
    except ValueError:
        return code


def _join(*parts: str | None) -> str | None:
    text = _SEPARATOR.join(p for p in parts if p)
    return text or None


__all__ = ["NOTE_DETAIL_LENGTH", "event_detail"]
