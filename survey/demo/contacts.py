"""The demo's buying centres: several people at the strategic accounts, and a
campaign that asked all of them, so one account's decision maker, purchaser and
daily user can be read side by side.

Called once from survey.demo.dataset.load_demo (after everything else) with its own
random generator, so the rest of the demo stays what it was. Contacts go in through
the contacts CSV import and the campaign through the ordinary launch, like real use.
Deterministic.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update

from survey.answers import AnswerInput, record_response
from survey.campaigns import CampaignRequest, launch_campaign
from survey.db import db
from survey.models import Campaign, Contact, Invitation, KeyAccount
from survey.registry import CONTACT_CSV_COLUMNS, import_contacts_csv
from survey.scale import ReasonCode

BUYING_CENTRE_CAMPAIGN = "2026 战略客户采购中心调查"
#: How many strategic accounts get a buying centre.
STRATEGIC_ACCOUNTS = 12
_SEED_OFFSET = 16

_ZH_PEOPLE = {
    "purchaser": ["周强", "吴敏", "孙浩", "马琳", "朱峰", "何佳"],
    "user": ["徐婷", "郭亮", "林晓", "高洁", "罗成", "梁宇"],
}
_EN_PEOPLE = {
    "purchaser": ["Kevin Ho", "Linda Chow", "Ray Lau", "Ivy Cheung"],
    "user": ["Jason Yip", "Mandy Siu", "Eric Fong", "Joyce Kwok"],
}

#: Answers for an account, in English or not (the demo's own, with its clusters).
Answers = Callable[[KeyAccount, bool], dict[str, AnswerInput]]


def add_buying_centres(
    *, secret_key: str, now: datetime, seed: int, answers: Answers
) -> tuple[int, int | None]:
    """Give the first strategic accounts a decision maker (their primary contact), a
    purchaser and a daily user, some speaking English; launch a campaign three days
    ago inviting all of them, and record answers from several people of most of those
    accounts. Returns (responses added, the campaign's id). Commits."""
    rng = random.Random(seed + _SEED_OFFSET)
    rows = db.session.execute(
        select(
            KeyAccount.external_id, KeyAccount.locale, Contact.name, Contact.email, Contact.phone
        )
        .join(Contact, (Contact.account_id == KeyAccount.id) & Contact.is_primary)
        .where(KeyAccount.value_type == "strategic", KeyAccount.active.is_(True))
        .order_by(KeyAccount.external_id)
        .limit(STRATEGIC_ACCOUNTS)
    ).all()
    if not rows:
        return 0, None
    report = import_contacts_csv(io.BytesIO(_contacts_csv(rng, rows)))
    if not report.imported:
        raise RuntimeError(f"demo contacts did not import: {report.problems[:3]}")

    result = launch_campaign(
        CampaignRequest(
            name=BUYING_CENTRE_CAMPAIGN,
            size=len(rows) - 2,
            seed=seed + _SEED_OFFSET,
            contacts="all",
            contact_roles=("decision_maker", "purchaser", "user"),
            exclude_days=0,
            # It asks nearly every strategic account, open case or not.
            include_open_cases=True,
            closes_in_days=21,
            created_by="demo",
        ),
        secret_key=secret_key,
        now=now,
    )
    campaign_id = result.campaign_id or 0
    launched = now - timedelta(days=3)
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(created_at=launched, opens_at=launched, closes_at=now + timedelta(days=18))
    )
    db.session.execute(
        update(Invitation)
        .where(Invitation.campaign_id == campaign_id)
        .values(created_at=launched, sent_at=launched, status="sent")
    )
    db.session.commit()
    return _answer(rng, campaign_id, launched, answers), campaign_id


def _contacts_csv(rng: random.Random, rows: Sequence[Row[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CONTACT_CSV_COLUMNS)
    for number, (external_id, locale, name, email, phone) in enumerate(rows):
        # The primary contact is the decision maker (found again by its e-mail or phone).
        writer.writerow([external_id, name, "decision_maker", email or "", phone or "", "", "yes"])
        slug = external_id.lower()
        for role in ("purchaser", "user"):
            # Mixed buying centres: about a third of the people speak English.
            english = locale == "en" or rng.random() < 0.3
            person = rng.choice((_EN_PEOPLE if english else _ZH_PEOPLE)[role])
            writer.writerow(
                [
                    external_id,
                    person,
                    "采购" if role == "purchaser" else "User",  # labels work as well as codes
                    f"{role}.{slug}@example.com",
                    f"+86 21 6666 {number:02d}{1 if role == 'purchaser' else 2}0",
                    "en" if english else "zh",
                    "no",
                ]
            )
    return out.getvalue().encode("utf-8")


def _answer(rng: random.Random, campaign_id: int, launched: datetime, answers: Answers) -> int:
    """Most invited people answer; purchasers are harder on price than the others."""
    invited = db.session.execute(
        select(Invitation.id, Invitation.locale, Contact.role, KeyAccount)
        .join(Contact, Contact.id == Invitation.contact_id)
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .where(Invitation.campaign_id == campaign_id)
        .order_by(Invitation.id)
    ).all()
    count = 0
    for invitation_id, locale, role, account in invited:
        if rng.random() >= 0.7:
            continue
        given = answers(account, locale == "en")
        if role == "purchaser" and given["price"].score > 2 and rng.random() < 0.6:
            given["price"] = AnswerInput(score=2, reasons=[ReasonCode.PRICE.value])
        when = launched + timedelta(days=rng.uniform(0.2, 2.5))
        record_response(invitation_id, given, comment=None, locale=locale, now=when)
        db.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id)
            .values(opened_at=when - timedelta(minutes=5))
        )
        count += 1
    db.session.commit()
    return count


__all__ = ["BUYING_CENTRE_CAMPAIGN", "add_buying_centres"]
