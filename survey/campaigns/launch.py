"""Launching a campaign: the sample, the frame at launch and the invitations, at once.

"Draw a random sample from the existing key accounts": the sample is drawn from
the frame with a recorded seed, and the frame as it was at launch is stored with
the campaign, so the draw can be audited and repeated. Launches are serialised by
a lock so that two launched together never invite the same account.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from survey.audit import CAMPAIGN_LAUNCH, record_audit
from survey.campaigns.frames import Frame
from survey.campaigns.planning import ALL_STRATUM, CampaignPlan, CampaignRequest, draw_plan
from survey.campaigns.questionnaires import ensure_default_questionnaire, ensure_exit_questionnaire
from survey.campaigns.sample_audit import frame_digest
from survey.campaigns.webhook_events import emit_campaign_launched
from survey.clock import utcnow
from survey.db import db, insert_many
from survey.delivery import KIND_INVITATION, MailSettings, queue_mail
from survey.errors import ConflictError
from survey.models import (
    CAMPAIGN_OPEN,
    INVITATION_PENDING,
    KIND_EXIT,
    SELECTION_RANDOM,
    Campaign,
    CampaignFrameMember,
    CampaignStratum,
    Invitation,
    codes_to_column,
)
from survey.scale import DEFAULT_LOCALE, normalise_locale
from survey.tokens import new_nonces, token_hashes
from survey.transactions import serialise


@dataclass(frozen=True)
class LaunchResult:
    campaign_id: int | None  # None for a dry run
    plan: CampaignPlan
    emails_queued: int = 0  # invitation e-mails written to the outbox


#: Any fixed number: PostgreSQL's advisory lock that serialises campaign launches.
LAUNCH_LOCK_KEY = 0x4B50_4C41  # "KPLA"


def _serialise_launches() -> None:
    """Hold the launch lock until this transaction ends, so that a launch running at
    the same time draws its frame only after this one's invitations are committed:
    "recently surveyed" then excludes them, and no account is invited by two
    campaigns launched together."""
    serialise(LAUNCH_LOCK_KEY)
    if db.session.get_bind().dialect.name == "sqlite":
        # A write statement (even one that matches no row) takes SQLite's single
        # write lock for the rest of the transaction; others wait (busy timeout).
        db.session.execute(update(Campaign).where(literal(False)).values(status=Campaign.status))


def launch_campaign(
    request: CampaignRequest,
    *,
    secret_key: str,
    dry_run: bool = False,
    now: datetime | None = None,
    mail: MailSettings | None = None,
) -> LaunchResult:
    """Draw the sample and write the campaign in one transaction: the campaign, its
    allocation, the frame at launch, and one pending invitation per invited contact
    of each sampled account (its primary contact, or all its chosen contacts: the
    request's `contacts` and `contact_roles`), each with its own link (only the hash
    of each link token is stored; `campaign_links` re-derives links) and language.
    With `mail` settings, one invitation e-mail per invited contact with an e-mail
    address is written to the outbox in the same transaction.

    With `dry_run` nothing is written and `campaign_id` is None. A name taken by a
    concurrent launch raises ConflictError after rolling back.
    """
    # The launch makes a few hundred thousand short-lived objects (the frame, its rows,
    # the e-mails), all freed by reference counting; meanwhile the cyclic collector
    # would walk the whole heap two or three times (0.17 s each at 100,000 accounts).
    with _cyclic_gc_paused():
        return _launch(request, secret_key=secret_key, dry_run=dry_run, now=now, mail=mail)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (it runs again after it, unless
    something else had switched it off before)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _launch(
    request: CampaignRequest,
    *,
    secret_key: str,
    dry_run: bool,
    now: datetime | None,
    mail: MailSettings | None,
) -> LaunchResult:
    if not secret_key:
        raise ValueError("secret_key is required to make survey links")
    now = now or utcnow()
    if dry_run:
        return LaunchResult(campaign_id=None, plan=draw_plan(request, now)[0])
    _serialise_launches()
    try:
        plan, frame, valid = draw_plan(request, now)
    except Exception:
        db.session.rollback()  # let go of the launch lock
        raise

    sampled = set(plan.sample)
    try:
        questionnaire = (
            ensure_exit_questionnaire()
            if request.kind == KIND_EXIT
            else ensure_default_questionnaire()
        )
        campaign = Campaign(
            name=plan.name,
            kind=request.kind,
            status=CAMPAIGN_OPEN,
            questionnaire_id=questionnaire.id,
            opens_at=now,
            closes_at=valid.closes_at,
            created_at=now,
            created_by=valid.created_by,
            method=plan.method,
            stratify_by=plan.stratify_by,
            seed=plan.seed,
            frame_size=plan.frame_size,
            sample_size=plan.sample_size,
            exclude_days=plan.exclude_days,
            contacts=plan.choice.contacts,
            contact_roles=plan.choice.roles_text,
            census_tiers=codes_to_column(plan.census_tiers),
            cover_within_days=plan.cover_within_days,
            include_open_cases=plan.include_open_cases,
            schedule_id=request.schedule_id,
            cycle=request.cycle,
        )
        db.session.add(campaign)
        db.session.flush()
        # Core bulk inserts (one executemany each): a 100,000-account frame must not go
        # through the ORM's per-row bookkeeping, which costs about twice the time.
        db.session.execute(
            insert(CampaignStratum.__table__),
            [
                {"campaign_id": campaign.id, "key": a.key, "frame": a.frame, "size": a.size}
                for a in plan.allocation
            ],
        )
        _store_frame(campaign.id, frame)
        # One invitation per invited contact: its own link, in its own language; all
        # contacts of an account share how it came in and its inclusion probability.
        # In frame order, as ever (the ids follow it); the nonces and token hashes in
        # bulk, the rows in one statement (survey.db.insert_many).
        invited = [
            (member, invitee)
            for member in frame.members
            if member.account_id in sampled
            for invitee in plan.invitees.get(member.account_id, ())
        ]
        nonces = new_nonces(len(invited))
        hashes = token_hashes(secret_key, nonces)
        invitations = [
            {
                "campaign_id": campaign.id,
                "account_id": member.account_id,
                "contact_id": invitee.contact_id,
                "token_nonce": nonce,
                "token_hash": token_hash,
                "locale": normalise_locale(invitee.locale) or DEFAULT_LOCALE,
                "stratum": member.stratum,
                "selection": plan.selection.get(member.account_id, SELECTION_RANDOM),
                "inclusion_probability": plan.inclusion_probability(
                    member.account_id, (member.stratum or "") if plan.stratify_by else ALL_STRATUM
                ),
                "status": INVITATION_PENDING,
                "created_at": now,
                "reminders_sent": 0,
            }
            for (member, invitee), nonce, token_hash in zip(invited, nonces, hashes, strict=True)
        ]
        insert_many(Invitation.__table__, invitations)
        # The invitation e-mails go into the outbox in this same transaction (delivered
        # later by `flask outbox send`); without mail settings links are handed out by hand.
        emails_queued = (
            queue_mail(KIND_INVITATION, mail, campaign_id=campaign.id, now=now)
            if mail is not None
            else 0
        )
        record_audit(
            valid.created_by,
            CAMPAIGN_LAUNCH,
            "campaign",
            campaign.id,
            at=now,
            details={
                "name": plan.name,
                "method": plan.method,
                "stratify_by": plan.stratify_by,
                "seed": plan.seed,
                "frame_size": plan.frame_size,
                "sample_size": plan.sample_size,
                "exclude_days": plan.exclude_days,
                "kind": request.kind,
                "contacts": plan.choice.contacts,
                "contact_roles": list(plan.choice.roles),
                "invitations": len(invitations),
                **(
                    {"schedule_id": request.schedule_id, "cycle": request.cycle}
                    if request.schedule_id is not None
                    else {}
                ),
                # The frame as drawn from, to check the stored frame later (verify).
                "frame_digest": frame_digest(m.account_id for m in frame.members),
                # The panel design and how many came in each way (verify re-checks them).
                "census_tiers": list(plan.census_tiers),
                "cover_within_days": plan.cover_within_days,
                "coverage_before": (
                    plan.coverage_before.isoformat() if plan.coverage_before else None
                ),
                "include_open_cases": plan.include_open_cases,
                "open_cases": len(plan.open_cases),
                "census": plan.census_count,
                "coverage": plan.coverage_count,
                "random": plan.random_count,
                "certainty_digest": frame_digest(plan.selection),
                **(
                    {"defected_within_days": request.defected_within_days}
                    if request.kind == KIND_EXIT
                    else {}
                ),
            },
        )
        campaign_id = campaign.id  # read before commit expires the object
        emit_campaign_launched(campaign_id)
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if db.session.scalar(select(Campaign.id).where(Campaign.name == plan.name)) is not None:
            raise ConflictError(
                f"A campaign named {plan.name!r} was launched at the same time; "
                "choose another name.",
                field="name",
            ) from exc
        # Otherwise the registry changed under the draw (e.g. an account was removed).
        raise ConflictError(
            "The key-account registry changed while the campaign was being launched; "
            "nothing was saved. Please try again."
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    return LaunchResult(campaign_id=campaign_id, plan=plan, emails_queued=emails_queued)


def _store_frame(campaign_id: int, frame: Frame) -> None:
    """Write the frame as it was at launch, in the caller's transaction.

    With the frame's own query this is one INSERT ... SELECT: 100,000 parameter sets
    cost seconds on PostgreSQL's executemany (benchmarks/: 8.9 s for a launch). The
    query runs again, so a registry change since the draw would store another frame:
    the count and id sum check turns that into the conflict the caller reports.
    """
    table = CampaignFrameMember.__table__
    if frame.source is None:
        db.session.execute(
            insert(table),
            [
                {
                    "campaign_id": campaign_id,
                    "account_id": m.account_id,
                    "external_id": m.external_id,
                    "stratum": m.stratum,
                }
                for m in frame.members
            ],
        )
        return
    members = frame.source.subquery()
    db.session.execute(
        insert(table).from_select(
            ["campaign_id", "account_id", "external_id", "stratum"],
            select(
                literal(campaign_id, Integer),
                members.c.account_id,
                members.c.external_id,
                members.c.stratum,
            ),
        )
    )
    stored = db.session.execute(
        select(func.count(), func.coalesce(func.sum(table.c.account_id), 0)).where(
            table.c.campaign_id == campaign_id
        )
    ).one()
    expected = (frame.size, sum(m.account_id for m in frame.members))
    if (int(stored[0]), int(stored[1])) != expected:
        raise ConflictError(
            "The key-account registry changed while the campaign was being launched; "
            "nothing was saved. Please try again."
        )


__all__ = [
    "LaunchResult",
    "launch_campaign",
]
