"""Auditable samples: what a launch recorded, and re-drawing it to check the invitations.

At launch survey.campaigns stores the method, stratify-by, seed, frame size and
sample size on the campaign, the allocation per stratum (campaign_strata), the
frame's membership (campaign_frame_members: account ids, external ids and strata
as they were then, so later edits to the registry change no history) and, in the
launch's audit entry, a SHA-256 digest of the sorted frame account ids.
`verify_campaign` draws the sample again from that record with survey.campaigns.sampling and
compares it with the invitations.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, not_, select

from survey.audit import CAMPAIGN_LAUNCH
from survey.campaigns.sampling import simple_sample, stratified_sample
from survey.db import db
from survey.errors import NotFoundError
from survey.models import (
    SELECTION_CENSUS,
    SELECTION_COVERAGE,
    AuditEntry,
    Campaign,
    CampaignFrameMember,
    CampaignStratum,
    Invitation,
    KeyAccount,
)

METHOD_STRATIFIED = "stratified"


def frame_digest(account_ids: Iterable[int]) -> str:
    """SHA-256 (hex) of the frame's account ids, sorted, one per line."""
    text = "\n".join(map(str, sorted(account_ids)))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class StratumRecord:
    key: str
    frame: int
    size: int


@dataclass(frozen=True, slots=True)
class SamplingRecord:
    """How a campaign's sample was drawn, as recorded at launch."""

    campaign_id: int
    method: str
    stratify_by: str | None
    seed: int
    frame_size: int
    sample_size: int
    #: SHA-256 of the recorded frame's sorted account ids; None without a recorded frame.
    frame_digest: str | None
    allocation: list[StratumRecord]


def sampling_records(campaign_ids: Sequence[int]) -> dict[int, SamplingRecord]:
    """The sampling record of each campaign: three queries for any number of campaigns
    (the campaigns, their strata, their frames' ids for the digest)."""
    ids = list(dict.fromkeys(campaign_ids))
    if not ids:
        return {}
    campaigns = db.session.execute(
        select(
            Campaign.id,
            Campaign.method,
            Campaign.stratify_by,
            Campaign.seed,
            Campaign.frame_size,
            Campaign.sample_size,
        ).where(Campaign.id.in_(ids))
    ).all()
    strata: dict[int, list[StratumRecord]] = defaultdict(list)
    for cid, key, frame, size in db.session.execute(
        select(
            CampaignStratum.campaign_id,
            CampaignStratum.key,
            CampaignStratum.frame,
            CampaignStratum.size,
        )
        .where(CampaignStratum.campaign_id.in_(ids))
        .order_by(CampaignStratum.campaign_id, CampaignStratum.key)
    ):
        strata[cid].append(StratumRecord(key, frame, size))
    members: dict[int, list[int]] = defaultdict(list)
    for cid, account_id in db.session.execute(
        select(CampaignFrameMember.campaign_id, CampaignFrameMember.account_id).where(
            CampaignFrameMember.campaign_id.in_(ids)
        )
    ):
        members[cid].append(account_id)
    return {
        row.id: SamplingRecord(
            campaign_id=row.id,
            method=row.method,
            stratify_by=row.stratify_by,
            seed=row.seed,
            frame_size=row.frame_size,
            sample_size=row.sample_size,
            frame_digest=frame_digest(members[row.id]) if members.get(row.id) else None,
            allocation=strata.get(row.id, []),
        )
        for row in campaigns
    }


@dataclass(frozen=True, slots=True)
class Verification:
    """Whether re-drawing a campaign's sample from its record gives its invitations."""

    campaign_id: int
    frame_size: int
    sample_size: int
    #: Sampled on re-draw but not invited, and invited but not sampled (external ids).
    missing: list[str]
    unexpected: list[str]
    frame_digest: str | None
    #: The digest recorded at launch (audit log); None for campaigns launched before.
    recorded_digest: str | None
    #: The certainty stratum: accounts invited by census and by the coverage goal.
    census: int = 0
    coverage: int = 0
    #: SHA-256 of the certainty accounts' ids as invited, and as recorded at launch
    #: (None for campaigns launched before the panel design).
    certainty_digest: str | None = None
    recorded_certainty_digest: str | None = None

    @property
    def frame_digest_matches(self) -> bool:
        return self.recorded_digest is None or self.recorded_digest == self.frame_digest

    @property
    def certainty_matches(self) -> bool:
        """The census and coverage accounts invited are those recorded at launch."""
        return (
            self.recorded_certainty_digest is None
            or self.recorded_certainty_digest == self.certainty_digest
        )

    @property
    def digest_matches(self) -> bool:
        return self.frame_digest_matches and self.certainty_matches

    @property
    def reproduced(self) -> bool:
        return not self.missing and not self.unexpected and self.digest_matches


def _launch_details(campaign_id: int) -> dict[str, Any]:
    details = db.session.scalar(
        select(AuditEntry.details)
        .where(
            AuditEntry.action == CAMPAIGN_LAUNCH,
            AuditEntry.target_type == "campaign",
            AuditEntry.target_id == str(campaign_id),
        )
        .order_by(AuditEntry.id)
        .limit(1)
    )
    if not details:
        return {}
    try:
        value = json.loads(details)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(details: dict[str, Any], key: str) -> str | None:
    value = details.get(key)
    return value if isinstance(value, str) else None


def _coverage_due(account_ids: Iterable[int], before: datetime, launched: datetime) -> set[int]:
    """Which of these accounts were due under the coverage goal at launch: in the
    registry before `before` and not invited since (counting only invitations made
    before the launch). Batched queries."""
    ids = list(account_ids)
    due: set[int] = set()
    for start in range(0, len(ids), 1000):
        batch = ids[start : start + 1000]
        invited_since = exists().where(
            Invitation.account_id == KeyAccount.id,
            Invitation.created_at >= before,
            Invitation.created_at < launched,
        )
        due.update(
            db.session.scalars(
                select(KeyAccount.id).where(
                    KeyAccount.id.in_(batch), KeyAccount.created_at < before, not_(invited_since)
                )
            )
        )
    return due


def verify_campaign(campaign_id: int) -> Verification:
    """Re-draw the sample from the recorded frame (its members, their external ids and
    strata at launch), seed and size, with the same functions as the launch, and
    compare it with the accounts actually invited. The draw sorts by the external ids
    recorded at launch, as the launch did, so renaming an account later changes
    nothing.

    The certainty stratum (panel design) is checked too: the census and coverage
    accounts invited must be those recorded at launch (a digest in the audit entry),
    the coverage ones exactly those the invitation history says were due then; the
    random part is re-drawn from the rest of the frame with the random sample's size.
    Old campaigns have no certainty stratum and re-draw as before. NotFoundError for an
    unknown campaign."""
    campaign = db.session.execute(
        select(
            Campaign.id,
            Campaign.method,
            Campaign.seed,
            Campaign.sample_size,
            Campaign.created_at,
        ).where(Campaign.id == campaign_id)
    ).first()
    if campaign is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    frame = db.session.execute(
        select(
            CampaignFrameMember.account_id,
            CampaignFrameMember.external_id,
            CampaignFrameMember.stratum,
        ).where(CampaignFrameMember.campaign_id == campaign_id)
    ).all()
    # Invited accounts by account id (the current external id names one outside the
    # frame), and how each came in.
    invited: dict[int, str] = {}
    selection: dict[int, str] = {}
    for account_id, external, chosen in db.session.execute(
        select(Invitation.account_id, KeyAccount.external_id, Invitation.selection)
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .where(Invitation.campaign_id == campaign_id)
    ):
        invited[account_id] = external
        if chosen in (SELECTION_CENSUS, SELECTION_COVERAGE):
            selection[account_id] = chosen
    details = _launch_details(campaign_id)
    recorded = {account_id: external for account_id, external, _ in frame}
    ids_by_external = {external: account_id for account_id, external, _ in frame}
    # The certainty stratum: census accounts as invited (their digest is checked below),
    # coverage accounts as the invitation history says they were due at launch.
    census = {a for a, how in selection.items() if how == SELECTION_CENSUS}
    certain = set(selection)
    before = _text(details, "coverage_before")
    if before is not None:
        due = _coverage_due(
            recorded.keys() - census, datetime.fromisoformat(before), campaign.created_at
        )
        certain = census | due
    certain &= recorded.keys()
    rest = [(a, e, s) for a, e, s in frame if a not in certain]
    size = min(campaign.sample_size - len(certain), len(rest))
    if campaign.method == METHOD_STRATIFIED:
        strata: dict[str, list[str]] = defaultdict(list)
        for _, external, stratum in rest:
            strata[stratum or ""].append(external)
        _allocation, drawn = stratified_sample(strata, size, campaign.seed)
    else:
        drawn = simple_sample([e for _, e, _ in rest], size, campaign.seed)
    expected = {ids_by_external[external] for external in drawn} | certain
    return Verification(
        campaign_id=campaign_id,
        frame_size=len(frame),
        sample_size=campaign.sample_size,
        missing=sorted(recorded[a] for a in expected - invited.keys()),
        unexpected=sorted(recorded.get(a, invited[a]) for a in invited.keys() - expected),
        frame_digest=frame_digest(recorded) if frame else None,
        recorded_digest=_text(details, "frame_digest"),
        census=len(census),
        coverage=len(selection) - len(census),
        certainty_digest=frame_digest(selection),
        recorded_certainty_digest=_text(details, "certainty_digest"),
    )


__all__ = [
    "SamplingRecord",
    "StratumRecord",
    "Verification",
    "frame_digest",
    "sampling_records",
    "verify_campaign",
]
