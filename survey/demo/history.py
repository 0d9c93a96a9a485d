"""The demo's last year: last year's survey, so health can be checked against who left
since (`healthValidation` looks a year back by default and needs answers from before
then; an account counts from its first invitation, survey.scoring.health_measures).

Last year's survey went to every account about 14 months ago (before the
validation's default cut-off) and most answered; the same pressures as this year's
make the same kinds of account unhappy (survey/demo/dataset.py), and the accounts
that have left since were already less happy then (a little more pressure on every
aspect), so they tended to answer worse, not always. Its follow-up cases were all
worked: most within the week, those of 刘洋's accounts (the red tape of this year's
survey) only after two months, so they were overdue for a while. The survey is
launched first (it is a year old, so this year's draws are the same as without it)
and answered, closed and worked once the story knows who left, all dated in the past.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from survey.campaigns import CampaignRequest, close_campaign, launch_campaign
from survey.db import db
from survey.demo.follow_ups import root_cause_for
from survey.follow_ups import update_follow_up
from survey.models import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_RESOLVED,
    FollowUp,
    KeyAccount,
    Response,
)

LAST_YEAR_CAMPAIGN = "2025 年度大客户满意度调查"
#: How long ago last year's survey opened.
LAST_YEAR_DAYS_AGO = 425
CLOSES_AFTER_DAYS = 21
_SLOW_MANAGER = "刘洋"


def open_last_year(
    *,
    secret_key: str,
    now: datetime,
    seed: int,
    backdate: Callable[[int, datetime, datetime], None],
) -> tuple[int, datetime]:
    """Launch last year's survey to every account, back-dated with
    `backdate(campaign_id, opened, closes)`. Returns its id and opening moment:
    it is answered (back-dated) by `finish_last_year` once the story knows who left."""
    accounts = db.session.scalar(select(func.count()).select_from(KeyAccount)) or 0
    launched = launch_campaign(
        CampaignRequest(name=LAST_YEAR_CAMPAIGN, size=accounts, seed=seed, created_by="demo"),
        secret_key=secret_key,
    )
    campaign_id = launched.campaign_id or 0
    opened = now - timedelta(days=LAST_YEAR_DAYS_AGO)
    backdate(campaign_id, opened, opened + timedelta(days=CLOSES_AFTER_DAYS))
    db.session.commit()
    return campaign_id, opened


def finish_last_year(
    campaign_id: int, opened: datetime, answer: Callable[[int, datetime], int]
) -> int:
    """Answer last year's survey with `answer(campaign_id, opened)` (the accounts that
    have left since were already less happy), close it and work its cases, all in
    the past. Returns the responses added."""
    responses = answer(campaign_id, opened)
    close_campaign(campaign_id, now=opened + timedelta(days=CLOSES_AFTER_DAYS), actor="demo")
    _work_cases(campaign_id)
    db.session.commit()
    return responses


def _work_cases(campaign_id: int) -> None:
    cases = db.session.execute(
        select(FollowUp.id, FollowUp.owner, FollowUp.opened_at, KeyAccount.account_manager)
        .join(Response, Response.id == FollowUp.response_id)
        .join(KeyAccount, KeyAccount.id == FollowUp.account_id)
        .where(Response.campaign_id == campaign_id)
        .order_by(FollowUp.id)
    ).all()
    for case_id, owner, opened_at, manager in cases:
        slow = manager == _SLOW_MANAGER
        contacted = opened_at + timedelta(days=30 if slow else 2)
        update_follow_up(
            case_id,
            status=FOLLOW_UP_CONTACTED,
            note="已联系客户了解情况。",
            author=owner,
            now=contacted,
        )
        update_follow_up(
            case_id,
            status=FOLLOW_UP_RESOLVED,
            note="已处理并回访。",
            author=owner,
            root_cause=root_cause_for(case_id),
            now=contacted + timedelta(days=30 if slow else 4 + case_id % 5),
        )


__all__ = ["LAST_YEAR_CAMPAIGN", "finish_last_year", "open_last_year"]
