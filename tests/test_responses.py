"""survey.answers: opening a link and recording a response, without HTTP."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import func, select

from survey.answers import responses as responses_module
from survey.answers.responses import (
    AnswerInput,
    is_open,
    load_invitation,
    mark_opened,
    questionnaire_questions,
    record_response,
)
from survey.db import db
from survey.errors import (
    AlreadyRespondedError,
    InvalidInputError,
    NotFoundError,
    SurveyClosedError,
)
from survey.models import (
    CAMPAIGN_CLOSED,
    INVITATION_BOUNCED,
    INVITATION_EXPIRED,
    INVITATION_OPENED,
    INVITATION_RESPONDED,
    INVITATION_SENT,
    Answer,
    AnswerReason,
    Aspect,
    Invitation,
    Response,
)
from survey.scale import DEFAULT_ASPECTS

from .factories import make_account, make_campaign

CODES = [a.code for a in DEFAULT_ASPECTS]
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
CLOSES = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def all_scores(score: int = 4, **overrides: AnswerInput) -> dict[str, AnswerInput]:
    answers = {code: AnswerInput(score) for code in CODES}
    answers.update(overrides)
    return answers


@pytest.fixture
def invitation(app):
    """One open invitation; returns (invitation id, token, account id, campaign id)."""
    with app.app_context():
        account = make_account("KA001", name="华东贸易有限公司", locale="zh")
        campaign, tokens = make_campaign(accounts=[account], closes_at=CLOSES)
        invitation_id = db.session.scalar(select(Invitation.id))
        db.session.commit()
        return invitation_id, tokens[account.id], account.id, campaign.id


def stored(invitation_id: int) -> dict:
    """What is stored for an invitation, as plain values."""
    response = db.session.scalar(select(Response).where(Response.invitation_id == invitation_id))
    if response is None:
        return {}
    rows = db.session.execute(
        select(Aspect.code, Answer.score, Answer.reason_text, Answer.id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Answer.response_id == response.id)
    ).all()
    reasons = {
        answer_id: sorted(
            db.session.scalars(
                select(AnswerReason.reason).where(AnswerReason.answer_id == answer_id)
            )
        )
        for *_, answer_id in rows
    }
    invitation = db.session.get(Invitation, invitation_id)
    return {
        "response": response,
        "answers": {code: (score, text, reasons[aid]) for code, score, text, aid in rows},
        "invitation": (invitation.status, invitation.responded_at),
    }


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- load_invitation / is_open -------------------------------------------------------


def test_load_invitation_returns_the_context_in_one_query(app, invitation):
    invitation_id, token, _, campaign_id = invitation
    with app.app_context():
        before = len(get_recorded_queries())
        ctx = load_invitation(token)
        assert len(get_recorded_queries()) - before == 1
    assert ctx is not None
    assert ctx.invitation_id == invitation_id
    assert ctx.status == INVITATION_SENT
    assert ctx.locale == "zh"
    assert ctx.account_name == "华东贸易有限公司"
    assert ctx.campaign_id == campaign_id
    assert ctx.campaign_name == "2026 Q4"
    assert ctx.campaign_status == "open"
    assert ctx.closes_at == CLOSES
    assert ctx.responded is False


@pytest.mark.parametrize(
    "token",
    ["", "short", "x" * 43, "!" * 43, "a" * 44, "é" * 43],
    ids=["empty", "short", "unknown", "bad-chars", "too-long", "non-ascii"],
)
def test_unknown_or_malformed_tokens_open_nothing(app, invitation, token):
    with app.app_context():
        before = len(get_recorded_queries())
        assert load_invitation(token) is None
        queries = len(get_recorded_queries()) - before
    # Malformed tokens never reach the database; a well-formed unknown one costs a query.
    assert queries == (1 if token == "x" * 43 else 0)


def test_load_invitation_sees_the_response(app, invitation):
    invitation_id, token, *_ = invitation
    with app.app_context():
        record_response(invitation_id, all_scores(), comment=None, locale="zh", now=NOW)
        ctx = load_invitation(token)
    assert ctx is not None and ctx.responded is True and ctx.status == INVITATION_RESPONDED


def test_is_open(app, invitation):
    token = invitation[1]
    with app.app_context():
        ctx = load_invitation(token)
    assert ctx is not None
    assert is_open(ctx, NOW) is True
    assert is_open(ctx, CLOSES - timedelta(seconds=1)) is True
    assert is_open(ctx, CLOSES) is False
    assert (
        is_open(ctx.__class__(**{**_fields(ctx), "campaign_status": CAMPAIGN_CLOSED}), NOW) is False
    )
    assert is_open(ctx.__class__(**{**_fields(ctx), "status": INVITATION_EXPIRED}), NOW) is False


def _fields(ctx) -> dict:
    return {name: getattr(ctx, name) for name in ctx.__slots__}


def test_questionnaire_questions_in_order(app, invitation):
    with app.app_context():
        ctx = load_invitation(invitation[1])
        assert ctx is not None
        questions = questionnaire_questions(ctx.questionnaire_id)
    assert [q.code for q in questions] == CODES
    assert questions[1].question("zh") == "您对交货及时性和物流满意吗？"
    assert questions[1].question("en") == DEFAULT_ASPECTS[1].question_en
    assert questions[-1].label("en") == "Overall satisfaction"


# --- mark_opened -----------------------------------------------------------------------


def test_mark_opened_sets_opened_at_once(app, invitation):
    invitation_id = invitation[0]
    later = NOW + timedelta(hours=2)
    with app.app_context():
        assert mark_opened(invitation_id, NOW) is True
        assert mark_opened(invitation_id, later) is False
        row = db.session.get(Invitation, invitation_id)
        assert (row.status, row.opened_at) == (INVITATION_OPENED, NOW)


def test_mark_opened_keeps_a_bounced_status(app, invitation):
    invitation_id = invitation[0]
    with app.app_context():
        db.session.get(Invitation, invitation_id).status = INVITATION_BOUNCED
        db.session.commit()
        assert mark_opened(invitation_id, NOW) is True
        row = db.session.get(Invitation, invitation_id)
        assert (row.status, row.opened_at) == (INVITATION_BOUNCED, NOW)


# --- record_response -------------------------------------------------------------------


def test_full_response_stores_exactly_the_right_rows(app, invitation):
    invitation_id, _, account_id, campaign_id = invitation
    answers = all_scores(
        5,
        delivery=AnswerInput(1, ["delivery", "service", "delivery"], "  三次延误  "),
        price=AnswerInput(2, ["price", "competitor_offer"], "\r\n"),
        overall=AnswerInput(3),
        service=AnswerInput(4),
    )
    with app.app_context():
        response_id = record_response(
            invitation_id, answers, comment="  继续保持！\r\n谢谢  ", locale="zh-CN", now=NOW
        )
        result = stored(invitation_id)
        response = result["response"]
        assert response.id == response_id
        assert (response.campaign_id, response.account_id) == (campaign_id, account_id)
        assert (response.locale, response.channel, response.entered_by) == ("zh", "web", None)
        assert response.comment == "继续保持！\n谢谢"
        assert response.submitted_at == NOW
        assert result["answers"] == {
            "product_quality": (5, None, []),
            "delivery": (1, "三次延误", ["delivery", "service"]),
            "price": (2, None, ["competitor_offer", "price"]),
            "service": (4, None, []),
            "communication": (5, None, []),
            "process": (5, None, []),
            "profitability": (5, None, []),
            "overall": (3, None, []),
        }
        assert result["invitation"] == (INVITATION_RESPONDED, NOW)
        assert (count(Response), count(Answer), count(AnswerReason)) == (1, 8, 4)


def test_record_response_uses_a_fixed_number_of_statements(app, invitation):
    invitation_id = invitation[0]
    many_reasons = AnswerInput(1, ["price", "service", "delivery", "process", "other"], "why")
    answers = {code: many_reasons for code in CODES}
    with app.app_context():
        before = len(get_recorded_queries())
        record_response(invitation_id, answers, comment="c", locale="en", now=NOW)
        statements = [q.statement for q in get_recorded_queries()[before:]]
        assert count(AnswerReason) == 40
    # invitation, aspect ids, exists, response, answers, reasons, invitation update;
    # every score is 1, so a follow-up opens too: its account and manager, its insert;
    # the webhook subscriptions (read once for the response and its follow-up's events);
    # and the data version's new token, just before the commit.
    assert len(statements) == 11, statements


def test_reasons_for_a_satisfied_answer_are_dropped(app, invitation):
    invitation_id = invitation[0]
    answers = all_scores(
        delivery=AnswerInput(4, ["delivery"], "ok"),
        price=AnswerInput(3, ["not-a-code"], "x" * 900),
    )
    with app.app_context():
        record_response(invitation_id, answers, comment=None, locale="zh", now=NOW)
        result = stored(invitation_id)
        assert result["answers"]["delivery"] == (4, None, [])
        assert result["answers"]["price"] == (3, None, [])
        assert count(AnswerReason) == 0


def test_phone_entry_records_channel_and_staff(app, invitation):
    invitation_id = invitation[0]
    with app.app_context():
        record_response(
            invitation_id,
            all_scores(),
            comment="   ",
            locale="en",
            channel="phone",
            entered_by=" 王伟 ",
            now=NOW,
        )
        response = stored(invitation_id)["response"]
        assert (response.channel, response.entered_by, response.locale) == ("phone", "王伟", "en")
        assert response.comment is None


@pytest.mark.parametrize(
    ("answers", "kwargs", "field"),
    [
        ({c: AnswerInput(4) for c in CODES[:-1]}, {}, "overall.score"),
        (all_scores(nonsense=AnswerInput(4)), {}, "nonsense"),
        (all_scores(price=AnswerInput(0)), {}, "price.score"),
        (all_scores(price=AnswerInput(6)), {}, "price.score"),
        (all_scores(price=AnswerInput(True)), {}, "price.score"),
        (all_scores(price=AnswerInput("2")), {}, "price.score"),  # type: ignore[arg-type]
        (all_scores(price=AnswerInput(2, ["price", "cheap"])), {}, "price.reasons"),
        (all_scores(price=AnswerInput(1, [], "x" * 501)), {}, "price.reason_text"),
        (all_scores(price=AnswerInput(1, [], "bad\x00byte")), {}, "price.reason_text"),
        (all_scores(), {"comment": "x" * 2001}, "comment"),
        (all_scores(), {"comment": "a\x07b"}, "comment"),
        (all_scores(), {"locale": "fr"}, "locale"),
        (all_scores(), {"channel": "fax"}, "channel"),
        (all_scores(), {"channel": "phone", "entered_by": "x" * 121}, "entered_by"),
    ],
    ids=[
        "missing-aspect",
        "unknown-aspect",
        "score-0",
        "score-6",
        "score-bool",
        "score-str",
        "unknown-reason",
        "reason-text-501",
        "reason-text-nul",
        "comment-2001",
        "comment-control",
        "locale",
        "channel",
        "entered-by-121",
    ],
)
def test_invalid_input_is_rejected_and_nothing_stored(app, invitation, answers, kwargs, field):
    invitation_id = invitation[0]
    arguments = {"comment": None, "locale": "zh", "now": NOW, **kwargs}
    with app.app_context():
        with pytest.raises(InvalidInputError) as excinfo:
            record_response(invitation_id, answers, **arguments)
        assert excinfo.value.field == field
        assert (count(Response), count(Answer)) == (0, 0)
        assert db.session.get(Invitation, invitation_id).status == INVITATION_SENT


def test_text_limits_are_inclusive(app, invitation):
    invitation_id = invitation[0]
    answers = all_scores(price=AnswerInput(1, [], " " + "理" * 500 + " "))
    with app.app_context():
        record_response(invitation_id, answers, comment="评" * 2000, locale="zh", now=NOW)
        result = stored(invitation_id)
        assert result["answers"]["price"] == (1, "理" * 500, [])
        assert result["response"].comment == "评" * 2000


def test_unknown_invitation(app, invitation):
    with app.app_context(), pytest.raises(NotFoundError):
        record_response(999_999, all_scores(), comment=None, locale="zh", now=NOW)


def test_closed_campaign_rejects_answers(app):
    with app.app_context():
        account = make_account()
        make_campaign(accounts=[account], status=CAMPAIGN_CLOSED, closes_at=CLOSES)
        invitation_id = db.session.scalar(select(Invitation.id))
        db.session.commit()
        with pytest.raises(SurveyClosedError):
            record_response(invitation_id, all_scores(), comment=None, locale="zh", now=NOW)
        assert count(Response) == 0


def test_answers_after_the_closing_time_are_rejected(app, invitation):
    invitation_id = invitation[0]
    with app.app_context():
        with pytest.raises(SurveyClosedError):
            record_response(invitation_id, all_scores(), comment=None, locale="zh", now=CLOSES)
        assert count(Response) == 0


def test_second_response_is_rejected(app, invitation):
    invitation_id = invitation[0]
    with app.app_context():
        first = record_response(invitation_id, all_scores(5), comment="a", locale="zh", now=NOW)
        with pytest.raises(AlreadyRespondedError):
            record_response(invitation_id, all_scores(1), comment="b", locale="zh", now=NOW)
        # A replay is reported as such even when its answers would not pass.
        with pytest.raises(AlreadyRespondedError):
            record_response(invitation_id, {}, comment="c" * 3000, locale="xx", now=NOW)
        assert db.session.scalars(select(Response.id)).all() == [first]
        assert db.session.scalars(select(Answer.score).distinct()).all() == [5]


def test_the_unique_constraint_decides_a_race(app, invitation, monkeypatch):
    """Both submissions pass the early check (as in a race); the constraint stores one."""
    invitation_id = invitation[0]
    real_exists = responses_module.response_exists
    calls: list[bool] = []

    def early_check_misses(invitation_id: int) -> bool:
        calls.append(True)
        # The early check (first call of each submission) sees nothing; the check
        # after the IntegrityError is the real one.
        return False if len(calls) in (1, 2) else real_exists(invitation_id)

    monkeypatch.setattr(responses_module, "response_exists", early_check_misses)
    with app.app_context():
        record_response(invitation_id, all_scores(5), comment="a", locale="zh", now=NOW)
        with pytest.raises(AlreadyRespondedError):
            record_response(invitation_id, all_scores(1), comment="b", locale="zh", now=NOW)
        assert (count(Response), count(Answer)) == (1, 8)
        assert db.session.scalar(select(Response.comment)) == "a"
    assert len(calls) == 3


def test_concurrent_submissions_store_exactly_one(app, invitation):
    invitation_id = invitation[0]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(score: int) -> None:
        with app.app_context():
            barrier.wait(timeout=10)
            try:
                record_response(
                    invitation_id, all_scores(score), comment=None, locale="zh", now=NOW
                )
                outcomes.append("stored")
            except AlreadyRespondedError:
                outcomes.append("already")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit, args=(score,)) for score in (2, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["already", "stored"]
    with app.app_context():
        assert (count(Response), count(Answer)) == (1, 8)
