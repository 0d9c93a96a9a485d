"""Personal survey links: each invitation's link, re-derived from its nonce."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from survey.db import db
from survey.errors import NotFoundError
from survey.models import Campaign, Contact, Invitation, KeyAccount
from survey.tokens import derive_token


def survey_url(base_url: str, token: str) -> str:
    """The personal survey link for a token."""
    return f"{base_url.rstrip('/')}/s/{token}"


@dataclass(frozen=True, slots=True)
class InvitationLink:
    external_id: str
    account_name: str
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    locale: str
    url: str
    status: str
    #: The contact's role code (survey.scale.ContactRole), None without a contact.
    contact_role: str | None = None


def campaign_links(campaign_id: int, *, secret_key: str, base_url: str) -> list[InvitationLink]:
    """Every invitation's personal link, re-derived from its nonce with the secret
    key, with the contact to send it to; ordered by external id, each account's
    primary contact first. One query."""
    rows = db.session.execute(
        select(
            Invitation.token_nonce,
            Invitation.locale,
            Invitation.status,
            KeyAccount.external_id,
            KeyAccount.name,
            Contact.name.label("contact_name"),
            Contact.email.label("contact_email"),
            Contact.phone.label("contact_phone"),
            Contact.role.label("contact_role"),
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .outerjoin(Contact, Contact.id == Invitation.contact_id)
        .where(Invitation.campaign_id == campaign_id)
        .order_by(KeyAccount.external_id, Contact.is_primary.desc(), Invitation.id)
    ).all()
    if not rows and db.session.get(Campaign, campaign_id) is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    return [
        InvitationLink(
            external_id=row.external_id,
            account_name=row.name,
            contact_name=row.contact_name or "",
            contact_email=row.contact_email,
            contact_phone=row.contact_phone,
            locale=row.locale,
            url=survey_url(base_url, derive_token(secret_key, row.token_nonce)),
            status=row.status,
            contact_role=row.contact_role,
        )
        for row in rows
    ]


__all__ = [
    "InvitationLink",
    "campaign_links",
    "survey_url",
]
