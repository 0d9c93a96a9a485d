"""Responses and their answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum

import strawberry

from survey import models as m
from survey.analysis.listing import ResponseRow
from survey.answers import answers_of_responses, responses_of_accounts

from ..campaigns.types import Campaign, build_campaigns
from ..loaders import Batch, unique_rows
from ..registry.types import Account, Contact, build_accounts, contact_of, provide_responses
from ..scalars import ReasonCode, Satisfaction


@strawberry.enum(description="Would a lost account consider working with us again?")
class WouldReturn(Enum):
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


@strawberry.type(description="One (response, aspect) score.")
class Answer:
    aspect: str = strawberry.field(description="The aspect code.")
    aspect_label: str
    score: int
    satisfaction: Satisfaction  # type: ignore[valid-type]
    reasons: list[ReasonCode]  # type: ignore[valid-type]
    reason_text: str | None


@strawberry.type(description="A submitted questionnaire.")
class Response:
    id: strawberry.ID
    submitted_at: datetime
    channel: str
    locale: str
    comment: str | None
    account: Account
    campaign: Campaign
    pk: strawberry.Private[int]
    batch: strawberry.Private[Batch]
    answer_locale: strawberry.Private[str]
    contact_id: strawberry.Private[int | None]
    contacts: strawberry.Private[Batch]

    @strawberry.field(description="Who at the account answered (the invitation's contact).")
    def contact(self) -> Contact | None:
        return contact_of(self.contacts, self.contact_id)

    @strawberry.field(description="Scores in questionnaire order.")
    def answers(self) -> list[Answer]:
        built = self.batch.get("answers", lambda ids: _answers_by_response(ids, self.answer_locale))
        return built.get(self.pk, [])


def build_responses(rows: Sequence[m.Response | ResponseRow], locale: str) -> list[Response]:
    """Response types from ORM rows or plain page rows (survey.analysis.response_page);
    their accounts and campaigns (joined in by the query) are built once each and share
    batches too."""
    accounts = {a.pk: a for a in build_accounts(unique_rows([r.account for r in rows]))}
    campaigns = {c.pk: c for c in build_campaigns(unique_rows([r.campaign for r in rows]))}
    batch = Batch(r.id for r in rows)
    contacts = Batch(r.contact_id for r in rows if r.contact_id is not None)
    return [
        Response(
            id=strawberry.ID(str(r.id)),
            submitted_at=r.submitted_at,
            channel=r.channel,
            locale=r.locale,
            comment=r.comment,
            account=accounts[r.account_id],
            campaign=campaigns[r.campaign_id],
            pk=r.id,
            batch=batch,
            answer_locale=locale,
            contact_id=r.contact_id,
            contacts=contacts,
        )
        for r in rows
    ]


def responses_by_account(account_ids: list[int], locale: str) -> dict[int, list[Response]]:
    """The responses of a batch of accounts (Account.responses), newest first."""
    rows = responses_of_accounts(account_ids)
    built = build_responses([r for group in rows.values() for r in group], locale)
    by_account: dict[int, list[Response]] = {}
    for response in built:
        by_account.setdefault(response.account.pk, []).append(response)
    return by_account


#: Each score's Satisfaction, made once.
_SATISFACTION = {s.value: Satisfaction(s.value) for s in Satisfaction}  # type: ignore[attr-defined]
#: The reason codes the API knows. An answer's reasons are handed to GraphQL as these
#: stored codes: graphql-core names a value with one dict look-up, where an enum
#: member costs a scan of the enum per reason (strawberry's enum output); the JSON is
#: the same. A code outside the vocabulary reads as OTHER, as `reason_enum` says.
_REASON_CODES = frozenset(r.value for r in ReasonCode)  # type: ignore[attr-defined]
_OTHER = ReasonCode.OTHER.value  # type: ignore[attr-defined]


def _answers_by_response(response_ids: list[int], locale: str) -> dict[int, list[Answer]]:
    rows = answers_of_responses(response_ids)
    return {
        response_id: [
            Answer(
                aspect=a.aspect,
                aspect_label=a.label(locale),
                score=a.score,
                satisfaction=_SATISFACTION[a.score],
                reasons=[r if r in _REASON_CODES else _OTHER for r in a.reasons],
                reason_text=a.reason_text,
            )
            for a in answers
        ]
        for response_id, answers in rows.items()
    }


provide_responses(responses_by_account)
