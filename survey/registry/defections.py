"""Defections: recording that a key account left, when, why and to whom."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from survey import clock
from survey.audit import DEFECTION_RECORD, record_audit
from survey.db import db
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.models import SOURCE_EXIT_SURVEY, SOURCE_STAFF, Defection, DefectionReason, KeyAccount
from survey.registry.account_csv import MAX_REVENUE
from survey.registry.accounts import find_account
from survey.registry.messages import join_choices, quote_input
from survey.registry.webhook_events import emit_defection_recorded
from survey.scale import ReasonCode

MAX_COMPETITOR_LENGTH = 200
MAX_RECORDED_BY_LENGTH = 120
DEFECTION_SOURCES: tuple[str, ...] = (SOURCE_STAFF, SOURCE_EXIT_SURVEY)


def parse_reasons(reasons: Sequence[str]) -> list[ReasonCode]:
    """Reason codes (or labels) in order, duplicates dropped; the first is primary.

    Raises InvalidInputError (field "reasons") for none or an unknown one.
    """
    if isinstance(reasons, str):
        reasons = [reasons]
    parsed: list[ReasonCode] = []
    unknown: list[str] = []
    for raw in reasons:
        try:
            code = ReasonCode.parse(raw)
        except ValueError:
            unknown.append(raw)
            continue
        if code not in parsed:
            parsed.append(code)  # type: ignore[arg-type]
    allowed = ", ".join(ReasonCode.codes())
    if unknown:
        names = ", ".join(quote_input(u) for u in unknown)
        raise InvalidInputError(f"unknown reason {names}; use {allowed}", field="reasons")
    if not parsed:
        raise InvalidInputError(
            f"give at least one reason (the first is the main one): {allowed}", field="reasons"
        )
    return parsed


def record_defection(
    *,
    account_id: int | None = None,
    external_id: str | None = None,
    defected_on: date,
    reasons: Sequence[str],
    competitor: str | None = None,
    lost_annual_revenue: int | None = None,
    note: str | None = None,
    recorded_by: str | None = None,
    source: str = SOURCE_STAFF,
    today: date | None = None,
) -> Defection:
    """Record that a key account left: when, why (first reason is the primary one),
    to whom and what it cost. Marks the account inactive and commits.

    `today` defaults to the server's local date; callers that know the business's
    time zone pass it. Raises InvalidInputError, NotFoundError, or ConflictError if
    the account already has a defection. Returns the defection with its account and
    reasons loaded.
    """
    codes = parse_reasons(reasons)
    if isinstance(defected_on, datetime):
        defected_on = defected_on.date()
    today = today or clock.today()
    if defected_on > today:
        raise InvalidInputError(
            f"the defection date {defected_on.isoformat()} is in the future "
            f"(today is {today.isoformat()})",
            field="defected_on",
        )
    if lost_annual_revenue is not None and lost_annual_revenue < 0:
        raise InvalidInputError(
            "the lost annual revenue cannot be negative", field="lost_annual_revenue"
        )
    if lost_annual_revenue is not None and lost_annual_revenue > MAX_REVENUE:
        raise InvalidInputError("the lost annual revenue is too large", field="lost_annual_revenue")
    if source not in DEFECTION_SOURCES:
        raise InvalidInputError(
            f"unknown source {quote_input(source)}; use {join_choices(DEFECTION_SOURCES)}",
            field="source",
        )
    competitor = _optional_text(competitor, "competitor", MAX_COMPETITOR_LENGTH)
    recorded_by = _optional_text(recorded_by, "recorded_by", MAX_RECORDED_BY_LENGTH)
    note = _optional_text(note, "note", None)

    account = find_account(select(KeyAccount), account_id=account_id, external_id=external_id)
    earlier = db.session.scalar(
        select(Defection.defected_on).where(Defection.account_id == account.id)
    )
    if earlier is not None:
        raise ConflictError(
            f"{account.external_id} already has a defection recorded "
            f"(left on {earlier.isoformat()})",
            field="account",
        )

    defection = Defection(
        account_id=account.id,
        defected_on=defected_on,
        competitor=competitor,
        lost_annual_revenue=lost_annual_revenue,
        note=note,
        source=source,
        recorded_by=recorded_by,
    )
    defection.reasons = [
        DefectionReason(reason=code.value, is_primary=(i == 0)) for i, code in enumerate(codes)
    ]
    account.active = False
    db.session.add(defection)
    try:
        db.session.flush()  # the defection's id, for the audit entry
        # `recorded_by` is who acts: the audit log names them too.
        record_audit(
            recorded_by,
            DEFECTION_RECORD,
            "account",
            account.external_id,
            {
                "defection_id": defection.id,
                "defected_on": defected_on.isoformat(),
                "reasons": [code.value for code in codes],
                "source": source,
            },
        )
        emit_defection_recorded(defection.id, account.id)
        db.session.commit()
    except IntegrityError as exc:
        # Someone recorded the same account between our check and our commit.
        db.session.rollback()
        raise ConflictError(
            f"{account.external_id} already has a defection recorded", field="account"
        ) from exc
    return get_defection(defection.id)


def get_defection(defection_id: int) -> Defection:
    """A defection with its account and reasons loaded. Raises NotFoundError."""
    defection = db.session.scalars(
        select(Defection)
        .options(joinedload(Defection.account), selectinload(Defection.reasons))
        .where(Defection.id == defection_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if defection is None:
        raise NotFoundError(f"there is no defection with id {defection_id}", field="defection")
    return defection


def _optional_text(value: str | None, field_name: str, limit: int | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if limit is not None and len(value) > limit:
        raise InvalidInputError(
            f"{field_name} is {len(value)} characters long; at most {limit} are allowed",
            field=field_name,
        )
    return value


__all__ = [
    "DEFECTION_SOURCES",
    "get_defection",
    "parse_reasons",
    "record_defection",
]
