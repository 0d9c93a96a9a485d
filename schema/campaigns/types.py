"""Campaigns, how their samples were drawn, and their invitations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from survey import analysis, campaigns
from survey import models as m
from survey.campaigns import invitation_counts, invitations_of_campaigns
from survey.delivery import invitation_status_counts

from ..analysis.types import SatisfactionGroup, build_group
from ..context import Info
from ..loaders import Batch, unique_rows
from ..pagination import Connection, check_first, decode_cursor, make_connection
from ..registry.types import Account, Contact, build_accounts, contact_of
from ..scalars import BigInt, Dimension, domain_dimension


@strawberry.enum(description="SATISFACTION: active accounts; EXIT: accounts lost recently.")
class CampaignKind(Enum):
    SATISFACTION = m.KIND_SATISFACTION
    EXIT = m.KIND_EXIT


@strawberry.enum
class CampaignStatus(Enum):
    OPEN = m.CAMPAIGN_OPEN
    CLOSED = m.CAMPAIGN_CLOSED


@strawberry.type(description="One stratum of a recorded sample: its frame and sample size.")
class SamplingStratum:
    key: str
    label: str
    frame: int
    size: int


@strawberry.type(description="How a campaign's sample was drawn, as recorded at launch.")
class CampaignSampling:
    method: str
    stratify_by: str | None
    seed: BigInt
    frame_size: int
    sample_size: int
    frame_digest: str | None = strawberry.field(
        description="SHA-256 of the recorded frame's sorted account ids (one per line)."
    )
    allocation: list[SamplingStratum]


def _sampling_of(ids: list[int], locale: str) -> dict[int, CampaignSampling]:
    records = campaigns.sampling_records(ids)
    result = {}
    for cid, r in records.items():
        dimension = analysis.Dimension(r.stratify_by) if r.stratify_by else None
        keys = [a.key for a in r.allocation]
        labels = (
            analysis.dimension_labels(dimension, keys, locale)
            if dimension is not None
            else {k: ("All" if locale == "en" else "全部") for k in keys}
        )
        result[cid] = CampaignSampling(
            method=r.method,
            stratify_by=r.stratify_by,
            seed=BigInt(r.seed),
            frame_size=r.frame_size,
            sample_size=r.sample_size,
            frame_digest=r.frame_digest,
            allocation=[
                SamplingStratum(
                    key=a.key, label=labels.get(a.key, a.key), frame=a.frame, size=a.size
                )
                for a in r.allocation
            ],
        )
    return result


@strawberry.type(description="One sampled account's invitation to a campaign.")
class Invitation:
    id: strawberry.ID
    status: str
    locale: str
    stratum: str | None
    created_at: datetime
    sent_at: datetime | None
    opened_at: datetime | None
    responded_at: datetime | None
    reminders_sent: int
    bounce_reason: str | None = strawberry.field(
        description="Why the e-mail bounced (the server's reply), when it did."
    )
    account: Account
    contact_id: strawberry.Private[int | None]
    contacts: strawberry.Private[Batch]

    @strawberry.field(description="Who at the account this link is for.")
    def contact(self) -> Contact | None:
        return contact_of(self.contacts, self.contact_id)


@strawberry.enum(description="Whom of each sampled account a campaign invites.")
class InvitedContacts(Enum):
    PRIMARY = m.CONTACTS_PRIMARY
    ALL = m.CONTACTS_ALL


@strawberry.type(description="A sample survey campaign.")
class Campaign:
    id: strawberry.ID
    name: str
    kind: str
    status: CampaignStatus
    opens_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    created_at: datetime
    created_by: str | None
    method: str
    stratify_by: str | None
    seed: BigInt
    frame_size: int
    sample_size: int
    exclude_days: int
    invited_contacts: InvitedContacts = strawberry.field(
        description="Whom of each sampled account it invited: the primary contact or all."
    )
    contact_roles: list[str] = strawberry.field(
        description="Only contacts in these roles (codes) were invited; empty: every role."
    )
    pk: strawberry.Private[int]
    batch: strawberry.Private[Batch]

    def _progress(self) -> analysis.CampaignProgress:
        return self.batch.get("progress", analysis.campaign_progress)[self.pk]

    @strawberry.field(description="Accounts invited.")
    def sampled(self) -> int:
        return self._progress().sampled

    @strawberry.field(description="Invited accounts of which at least one invited person answered.")
    def responded(self) -> int:
        return self._progress().responded

    @strawberry.field(description="Invitations per life-cycle status.")
    def invitation_counts(self) -> InvitationCounts:
        counts = self.batch.get("status_counts", invitation_status_counts)[self.pk]
        return InvitationCounts(**counts)

    @strawberry.field(description="responded / sampled (0..1); null with no invitations.")
    def response_rate(self) -> float | None:
        return self._progress().response_rate

    @strawberry.field(description="Invitations in id order.")
    def invitations(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Invitation]:
        size = check_first(first, info.context.max_page_size, default=50)
        after_id = decode_cursor(after)
        pages = self.batch.get(
            ("invitations", size, after_id),
            lambda ids: _invitation_pages(ids, size, after_id, self.batch),
        )
        return pages[self.pk]

    @strawberry.field(
        description="95% margin of error of the overall satisfied share for the responses "
        "received, with the finite population correction for the frame; null without any."
    )
    def margin_of_error(self) -> float | None:
        return self.batch.get("margins", analysis.campaign_margins).get(self.pk)

    @strawberry.field(description="How the sample was drawn, recorded at launch (auditable).")
    def sampling(self, info: Info) -> CampaignSampling | None:
        locale = info.context.locale
        records = self.batch.get(("sampling", locale), lambda ids: _sampling_of(ids, locale))
        return records.get(self.pk)

    @strawberry.field(description="This campaign's answers grouped by `groupBy`.")
    def summary(
        self,
        info: Info,
        group_by: Dimension = Dimension.ASPECT,  # type: ignore[valid-type,attr-defined]
    ) -> list[SatisfactionGroup]:
        dimension = domain_dimension(group_by)
        locale = info.context.locale
        summaries = self.batch.get(
            ("summary", dimension, locale),
            lambda ids: analysis.satisfaction_summaries(dimension, campaign_ids=ids, locale=locale),
        )
        return [build_group(g) for g in summaries[self.pk]]


@strawberry.type(
    description="Invitations per status: pending (not e-mailed yet, or phone only), sent, "
    "opened (first page view), responded, bounced, expired (campaign closed)."
)
class InvitationCounts:
    pending: int
    sent: int
    opened: int
    responded: int
    bounced: int
    expired: int


def build_campaigns(rows: list[m.Campaign]) -> list[Campaign]:
    batch = Batch(r.id for r in rows)
    return [
        Campaign(
            id=strawberry.ID(str(r.id)),
            name=r.name,
            kind=r.kind,
            status=CampaignStatus(r.status),
            opens_at=r.opens_at,
            closes_at=r.closes_at,
            closed_at=r.closed_at,
            created_at=r.created_at,
            created_by=r.created_by,
            method=r.method,
            stratify_by=r.stratify_by,
            seed=BigInt(r.seed),
            frame_size=r.frame_size,
            sample_size=r.sample_size,
            exclude_days=r.exclude_days,
            invited_contacts=InvitedContacts(r.contacts),
            contact_roles=list(m.column_to_codes(r.contact_roles)),
            pk=r.id,
            batch=batch,
        )
        for r in rows
    ]


def _invitation_pages(
    campaign_ids: list[int], first: int, after_id: int | None, campaigns: Batch
) -> dict[int, Connection[Invitation]]:
    rows = invitations_of_campaigns(campaign_ids, first + 1, after_id)
    all_rows = [r for group in rows.values() for r in group]
    accounts = {a.pk: a for a in build_accounts(unique_rows([r.account for r in all_rows]))}
    contacts = Batch(r.contact_id for r in all_rows if r.contact_id is not None)

    def count_for(campaign_id: int) -> int:
        return campaigns.get("invitation_counts", invitation_counts).get(campaign_id, 0)

    pages: dict[int, Connection[Invitation]] = {}
    for campaign_id in campaign_ids:
        group = rows.get(campaign_id, [])
        nodes = [
            Invitation(
                id=strawberry.ID(str(r.id)),
                status=r.status,
                locale=r.locale,
                stratum=r.stratum,
                created_at=r.created_at,
                sent_at=r.sent_at,
                opened_at=r.opened_at,
                responded_at=r.responded_at,
                reminders_sent=r.reminders_sent,
                bounce_reason=r.bounce_reason,
                account=accounts[r.account_id],
                contact_id=r.contact_id,
                contacts=contacts,
            )
            for r in group
        ]
        # The extra row (first + 1) only says that more follow.
        pages[campaign_id] = make_connection(
            nodes[:first],
            [r.id for r in group[:first]],
            len(group) > first,
            lambda campaign_id=campaign_id: count_for(campaign_id),  # type: ignore[misc]
        )
    return pages
