"""What one account told us over time: per campaign and aspect, its mean score and
how many of its people answered (one grouped query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from survey.analysis.filters import resolve_locale
from survey.db import db
from survey.models import Answer, Aspect, Campaign, Response


@dataclass(frozen=True, slots=True)
class AspectScore:
    """One aspect in one campaign, for one account."""

    aspect: str
    label: str
    mean: float
    respondents: int
    #: Its place in the questionnaire (aspects are shown in this order).
    position: int = 0


@dataclass(frozen=True, slots=True)
class CampaignAspects:
    """One campaign the account answered, with its aspects in questionnaire order."""

    campaign_id: int
    campaign_name: str
    opens_at: datetime
    aspects: tuple[AspectScore, ...]

    def score(self, aspect: str) -> AspectScore | None:
        return next((a for a in self.aspects if a.aspect == aspect), None)


def account_aspect_history(account_id: int, *, locale: str | None = None) -> list[CampaignAspects]:
    """Per campaign the account answered (oldest first), per aspect rated: the mean
    score and the number of its respondents (one grouped query)."""
    locale = resolve_locale(locale)
    rows = db.session.execute(
        select(
            Campaign.id,
            Campaign.name,
            Campaign.opens_at,
            Aspect.code,
            Aspect.label_zh,
            Aspect.label_en,
            Aspect.position,
            func.sum(Answer.score),
            func.count(Answer.id),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Campaign, Campaign.id == Response.campaign_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Response.account_id == account_id)
        .group_by(
            Campaign.id,
            Campaign.name,
            Campaign.opens_at,
            Aspect.code,
            Aspect.label_zh,
            Aspect.label_en,
            Aspect.position,
        )
        .order_by(Campaign.opens_at, Campaign.id, Aspect.position, Aspect.code)
    ).all()
    campaigns: dict[int, tuple[str, datetime, list[AspectScore]]] = {}
    for campaign_id, name, opens_at, code, zh, en, position, total, count in rows:
        entry = campaigns.setdefault(campaign_id, (name, opens_at, []))
        entry[2].append(
            AspectScore(
                aspect=code,
                label=en if locale == "en" else zh,
                mean=int(total) / int(count),
                respondents=int(count),
                position=int(position or 0),
            )
        )
    return [
        CampaignAspects(campaign_id, name, opens_at, tuple(aspects))
        for campaign_id, (name, opens_at, aspects) in campaigns.items()
    ]
