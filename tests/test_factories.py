"""The test builders produce rows the models accept, on every backend."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from survey.campaigns.questionnaires import ensure_default_questionnaire, questionnaire_aspects
from survey.db import db
from survey.models import Answer, AnswerReason, Invitation, Response
from survey.tokens import hash_token

from .factories import make_account, make_campaign, make_defection, make_response


def test_builders_round_trip(app):
    with app.app_context():
        a, b = make_account("KA1"), make_account("KA2", name="上海华联", locale="en")
        campaign, tokens = make_campaign(accounts=[a, b])
        make_response(
            campaign,
            a,
            {"delivery": 1, "overall": 4},
            reasons={"delivery": ["delivery", "process"]},
        )
        make_defection(b, date(2026, 10, 1), ["price", "competitor_offer"])
        db.session.commit()

        assert db.session.scalar(select(func.count()).select_from(Response)) == 1
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 2
        assert db.session.scalar(select(func.count()).select_from(AnswerReason)) == 2
        invitation = db.session.scalar(
            select(Invitation).where(Invitation.token_hash == hash_token(tokens[b.id]))
        )
        assert invitation is not None and invitation.account_id == b.id
        assert invitation.created_at.tzinfo is not None


def test_default_questionnaire_is_created_once_in_order(app):
    with app.app_context():
        first = ensure_default_questionnaire()
        again = ensure_default_questionnaire()
        db.session.commit()
        assert first.id == again.id
        codes = [a.code for a in questionnaire_aspects(first.id)]
        assert codes[0] == "product_quality" and codes[-1] == "overall" and len(codes) == 8
