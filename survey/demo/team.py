"""The demo's account teams and re-tiering: an executive sponsor and a service lead
for the largest strategic accounts, and a few accounts moved between tiers a month
ago, through the same imports real use goes through (so their timelines show it)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import select, update

from survey.audit import ACCOUNT_TIER_CHANGE
from survey.db import db
from survey.models import AuditEntry, KeyAccount
from survey.registry import (
    ACCOUNT_COLUMNS,
    TEAM_COLUMNS,
    import_account_team_csv,
    import_accounts_csv,
)

#: How many strategic accounts get a team, and how many accounts change tier.
TEAM_ACCOUNTS = 8
TIER_CHANGES = 4
#: Sponsors with the e-mail escalations reach them at (survey/demo/follow_ups.py makes
#: Michael Sun, an English-reading staff member, the sponsor of one more account).
_SPONSORS = [
    ("陈总", "chen.zong@example.com"),
    ("Grace Liu", "grace.liu@example.com"),
    ("林副总", "lin.fuzong@example.com"),
]
_SERVICE_LEADS = ["周婷", "Kevin Ho", "郑凯", "Linda Xu"]
#: Up a tier when growing, down when shrinking.
_RETIER = {"A": "B", "B": "A", "C": "B"}


def add_teams_and_tier_changes(now: datetime) -> None:
    """Give the largest strategic accounts a team and re-tier a few active accounts."""
    strategic = db.session.scalars(
        select(KeyAccount)
        .where(KeyAccount.value_type == "strategic", KeyAccount.active.is_(True))
        .order_by(KeyAccount.annual_revenue.desc(), KeyAccount.id)
        .limit(TEAM_ACCOUNTS)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TEAM_COLUMNS)
    for i, account in enumerate(strategic):
        sponsor, sponsor_email = _SPONSORS[i % len(_SPONSORS)]
        lead = _SERVICE_LEADS[i % len(_SERVICE_LEADS)]
        writer.writerow([account.external_id, sponsor, "executive_sponsor", sponsor_email])
        writer.writerow([account.external_id, lead, "服务负责人", ""])
    report = import_account_team_csv(io.BytesIO(out.getvalue().encode()), actor="demo")
    if not report.imported:
        raise RuntimeError(f"demo teams did not import: {report.problems[:3]}")

    # Re-tier a few (the timeline and the audit log show it): two of them slip a tier,
    # the two largest tier-B accounts grow into A.
    growing = db.session.scalars(
        select(KeyAccount)
        .where(KeyAccount.tier == "B", KeyAccount.active.is_(True))
        .order_by(KeyAccount.annual_revenue.desc(), KeyAccount.id)
        .limit(TIER_CHANGES // 2)
    ).all()
    moved = [*strategic[: TIER_CHANGES - len(growing)], *growing]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ACCOUNT_COLUMNS)
    for account in moved:
        # The contact columns stay empty: the accounts' contacts are left as they are.
        values = {name: getattr(account, name, None) for name in ACCOUNT_COLUMNS}
        values["tier"] = _RETIER[account.tier]
        writer.writerow(["" if values[c] is None else values[c] for c in ACCOUNT_COLUMNS])
    if import_accounts_csv(io.BytesIO(out.getvalue().encode()), actor="demo").imported:
        db.session.execute(
            update(AuditEntry)
            .where(AuditEntry.action == ACCOUNT_TIER_CHANGE)
            .values(at=now - timedelta(days=30))
        )
        db.session.commit()
