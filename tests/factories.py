"""Small builders for test data. They write rows directly (no services), flush,
and leave committing to the test. Use inside `with app.app_context():`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from survey.campaigns.questionnaires import ensure_aspects, ensure_default_questionnaire
from survey.clock import utcnow
from survey.db import db
from survey.models import (
    CAMPAIGN_OPEN,
    INVITATION_RESPONDED,
    INVITATION_SENT,
    Answer,
    AnswerReason,
    Campaign,
    Contact,
    Defection,
    DefectionReason,
    Invitation,
    KeyAccount,
    Response,
)
from survey.tokens import derive_token, hash_token, new_nonce

from .conftest import TEST_SECRET

#: make_account's keywords that describe the primary contact, not the account.
CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone", "opted_out_at")


def make_account(external_id: str = "KA001", **fields: Any) -> KeyAccount:
    """An account and, unless its contact name, e-mail and phone are all empty, its
    primary contact (`contact_name`, `contact_email`, `contact_phone`, `opted_out_at`
    and `locale` describe that contact, as the account's columns once did)."""
    values: dict[str, Any] = {
        "name": f"Account {external_id}",
        "tier": "A",
        "value_type": "extrinsic",
        "relationship_stage": "partner",
        "region": "华东",
        "annual_revenue": 1_000_000,
        "account_manager": "王伟",
        "contact_name": "李娜",
        "contact_email": f"{external_id.lower()}@example.com",
        "contact_phone": None,
        "locale": "zh",
    }
    values.update(fields)
    contact = {name: values.pop(name, None) for name in CONTACT_FIELDS}
    account = KeyAccount(external_id=external_id, **values)
    db.session.add(account)
    db.session.flush()
    if contact["contact_name"] or contact["contact_email"] or contact["contact_phone"]:
        make_contact(
            account,
            name=contact["contact_name"] or "",
            email=contact["contact_email"],
            phone=contact["contact_phone"],
            opted_out_at=contact["opted_out_at"],
            is_primary=True,
        )
    return account


def make_contact(
    account: KeyAccount,
    *,
    name: str = "张伟",
    role: str = "other",
    email: str | None = None,
    phone: str | None = None,
    locale: str | None = None,
    is_primary: bool = False,
    opted_out_at: datetime | None = None,
) -> Contact:
    """A contact of `account` (its language is the account's unless given)."""
    contact = Contact(
        account_id=account.id,
        name=name,
        role=role,
        email=email,
        phone=phone,
        locale=locale or account.locale,
        is_primary=is_primary,
        opted_out_at=opted_out_at,
    )
    db.session.add(contact)
    db.session.flush()
    return contact


def primary_contact_id(account: KeyAccount) -> int | None:
    return db.session.scalar(
        select(Contact.id).where(Contact.account_id == account.id, Contact.is_primary)
    )


def make_campaign(
    name: str = "2026 Q4",
    *,
    accounts: list[KeyAccount],
    status: str = CAMPAIGN_OPEN,
    closes_at: datetime | None = None,
    opens_at: datetime | None = None,
    secret: str = TEST_SECRET,
    kind: str = "satisfaction",
    inclusion_probabilities: dict[int, float | None] | None = None,
) -> tuple[Campaign, dict[int, str]]:
    """A campaign inviting `accounts`; returns it and the link token per account id.
    `inclusion_probabilities`: π of some accounts' invitations, by account id."""
    questionnaire = ensure_default_questionnaire()
    now = utcnow()
    campaign = Campaign(
        name=name,
        kind=kind,
        status=status,
        questionnaire_id=questionnaire.id,
        opens_at=opens_at or now - timedelta(days=1),
        closes_at=closes_at or now + timedelta(days=14),
        method="simple",
        seed=1,
        frame_size=len(accounts),
        sample_size=len(accounts),
    )
    db.session.add(campaign)
    db.session.flush()
    tokens: dict[int, str] = {}
    for account in accounts:
        nonce = new_nonce()
        token = derive_token(secret, nonce)
        db.session.add(
            Invitation(
                campaign_id=campaign.id,
                account_id=account.id,
                contact_id=primary_contact_id(account),
                token_nonce=nonce,
                token_hash=hash_token(token),
                locale=account.locale,
                status=INVITATION_SENT,
                created_at=campaign.opens_at,
                sent_at=campaign.opens_at,
                inclusion_probability=(inclusion_probabilities or {}).get(account.id),
            )
        )
        tokens[account.id] = token
    db.session.flush()
    return campaign, tokens


def make_response(
    campaign: Campaign,
    account: KeyAccount,
    scores: dict[str, int],
    *,
    reasons: dict[str, list[str]] | None = None,
    reason_texts: dict[str, str] | None = None,
    comment: str | None = None,
    submitted_at: datetime | None = None,
    channel: str = "web",
) -> Response:
    """A response to the account's invitation in `campaign`, scores by aspect code."""
    aspects = ensure_aspects()
    invitation = (
        db.session.query(Invitation).filter_by(campaign_id=campaign.id, account_id=account.id).one()
    )
    when = submitted_at or utcnow()
    response = Response(
        invitation_id=invitation.id,
        campaign_id=campaign.id,
        account_id=account.id,
        contact_id=invitation.contact_id,
        submitted_at=when,
        channel=channel,
        locale=account.locale,
        comment=comment,
    )
    db.session.add(response)
    db.session.flush()
    for code, score in scores.items():
        answer = Answer(
            response_id=response.id,
            aspect_id=aspects[code].id,
            score=score,
            reason_text=(reason_texts or {}).get(code),
        )
        answer.reasons = [AnswerReason(reason=r) for r in (reasons or {}).get(code, [])]
        db.session.add(answer)
    invitation.status = INVITATION_RESPONDED
    invitation.responded_at = when
    db.session.flush()
    return response


def make_defection(
    account: KeyAccount,
    defected_on: date,
    reasons: list[str],
    *,
    lost_annual_revenue: int | None = None,
    competitor: str | None = None,
    note: str | None = None,
) -> Defection:
    """A defection; the first reason is the primary one."""
    defection = Defection(
        account_id=account.id,
        defected_on=defected_on,
        lost_annual_revenue=lost_annual_revenue,
        competitor=competitor,
        note=note,
    )
    defection.reasons = [
        DefectionReason(reason=r, is_primary=(i == 0)) for i, r in enumerate(reasons)
    ]
    account.active = False
    db.session.add(defection)
    db.session.flush()
    return defection
