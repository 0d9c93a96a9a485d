"""The questionnaire version (survey.data_version.QUESTIONNAIRE_ROW_ID) and the
questions each process keeps under it (survey.answers.survey_link): a link is opened
with one statement, and what a questionnaire asks is read again after every change
made through the session, after QUESTIONS_KEPT_SECONDS for a change made past it, and
on every open where the version row is missing."""

from __future__ import annotations

import shutil

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import delete, select, text, update

from survey.answers import survey_link
from survey.answers.survey_link import open_survey
from survey.data_version import QUESTIONNAIRE_ROW_ID, ROW_ID, DataVersion
from survey.db import db
from survey.models import Aspect, Campaign, Invitation, KeyAccount, QuestionnaireItem

from .conftest import csrf_token_from, make_test_app
from .factories import make_account, make_campaign
from .test_survey_pages import CLOSES, CODES, open_form, valid_answers


@pytest.fixture
def link(app) -> str:
    with app.app_context():
        account = make_account("KA001", name="华东贸易有限公司", locale="zh")
        _, tokens = make_campaign(accounts=[account], closes_at=CLOSES)
        db.session.commit()
        return tokens[account.id]


def _tokens() -> dict[int, str]:
    db.session.rollback()
    return dict(db.session.execute(select(DataVersion.id, DataVersion.token)).all())


def _asked(link: str) -> list[tuple[str, str]]:
    """The opened link's questions, (code, English question) each, in order."""
    opened = open_survey(link)
    assert opened is not None
    return [(q.code, q.question_en) for q in opened.questions]


def test_an_edited_aspect_changes_both_versions(app, link):
    with app.app_context():
        before = _tokens()
        db.session.execute(update(Aspect).where(Aspect.code == CODES[0]).values(question_en="Now?"))
        db.session.commit()
        after = _tokens()
    # The figures read the aspects too (their labels).
    assert after[ROW_ID] != before[ROW_ID]
    assert after[QUESTIONNAIRE_ROW_ID] != before[QUESTIONNAIRE_ROW_ID]


def test_a_response_changes_the_figures_not_the_questionnaire(app, client, link):
    with app.app_context():
        before = _tokens()
    _, html = open_form(client, link)
    posted = client.post(
        f"/s/{link}", data={"csrf_token": csrf_token_from(html), **valid_answers()}
    )
    assert posted.status_code == 303
    with app.app_context():
        after = _tokens()
    assert after[ROW_ID] != before[ROW_ID]
    assert after[QUESTIONNAIRE_ROW_ID] == before[QUESTIONNAIRE_ROW_ID]


def test_questions_are_read_again_after_a_change_through_the_session(app, link):
    with app.app_context():
        first = _asked(link)
        assert [code for code, _ in first] == CODES
    with app.app_context():  # kept: one statement opens the link
        assert _asked(link) == first
        assert len(get_recorded_queries()) == 1
    with app.app_context():
        # The last question moved first: the items change, the aspects do not.
        questionnaire_id = db.session.scalar(select(Campaign.questionnaire_id))
        last = db.session.scalar(select(Aspect.id).where(Aspect.code == CODES[-1]))
        db.session.execute(
            update(QuestionnaireItem)
            .where(
                QuestionnaireItem.questionnaire_id == questionnaire_id,
                QuestionnaireItem.aspect_id == last,
            )
            .values(position=-1)
        )
        db.session.commit()
        assert [code for code, _ in _asked(link)] == [CODES[-1], *CODES[:-1]]
        # An edit through the unit of work (a flush) counts as well.
        aspect = db.session.scalars(select(Aspect).where(Aspect.code == CODES[0])).one()
        aspect.question_en = "How is our delivery now?"
        db.session.commit()
        assert (CODES[0], "How is our delivery now?") in _asked(link)


def test_a_change_past_the_session_is_seen_after_the_kept_time(app, link, monkeypatch):
    with app.app_context():
        before = _asked(link)
        with db.engine.begin() as connection:  # psql, a bulk load: no version change
            connection.execute(
                text("UPDATE aspects SET question_en = 'Edited by hand?' WHERE code = :code"),
                {"code": CODES[0]},
            )
        assert _asked(link) == before  # kept under the same version
        monkeypatch.setattr(survey_link, "QUESTIONS_KEPT_SECONDS", 0.0)
        assert _asked(link)[0] == (CODES[0], "Edited by hand?")


def test_without_the_version_row_questions_are_read_on_every_open(app, link):
    with app.app_context():
        db.session.execute(delete(DataVersion).where(DataVersion.id == QUESTIONNAIRE_ROW_ID))
        db.session.commit()
        before = _asked(link)
        with db.engine.begin() as connection:
            connection.execute(
                text("UPDATE aspects SET question_en = 'Read again?' WHERE code = :code"),
                {"code": CODES[0]},
            )
        assert before[0] != (CODES[0], "Read again?")
        assert _asked(link)[0] == (CODES[0], "Read again?")
        # The next change through the session makes the row again.
        db.session.execute(update(Aspect).where(Aspect.code == CODES[1]).values(label_en="x"))
        db.session.commit()
        assert QUESTIONNAIRE_ROW_ID in _tokens()


def test_each_version_changes_with_its_own_tables_only(app, link):
    with app.app_context():
        before = _tokens()
        account = db.session.scalars(select(KeyAccount)).one()
        account.name = "华东贸易集团"  # a figure's group label: the figures only
        db.session.commit()
        renamed = _tokens()
        invitation = db.session.scalars(select(Invitation)).one()
        invitation.reminders_sent += 1  # a link's life cycle: neither
        db.session.commit()
        reminded = _tokens()
    assert renamed[ROW_ID] != before[ROW_ID]
    assert renamed[QUESTIONNAIRE_ROW_ID] == before[QUESTIONNAIRE_ROW_ID]
    assert reminded == renamed


def test_a_copied_database_keeps_its_own_questions(app, link, tmp_path):
    """A copy starts with the same version token (a test's copy of a template, a
    staging copy): each database's questions are kept apart."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        pytest.skip("copies an SQLite file")
    with app.app_context():
        assert _asked(link)[0][1] != "Asked in the copy?"
        db.engine.dispose()  # the log folded back into the file before the copy
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(url.removeprefix("sqlite:///"), copy)
    other = make_test_app(f"sqlite:///{copy}")
    with other.app_context():
        with db.engine.begin() as connection:  # past the session: the same token
            connection.execute(
                text("UPDATE aspects SET question_en = 'Asked in the copy?' WHERE code = :c"),
                {"c": CODES[0]},
            )
        assert _tokens() == _tokens_of(app)
        assert _asked(link)[0] == (CODES[0], "Asked in the copy?")
        db.engine.dispose()
    with app.app_context():
        assert _asked(link)[0][1] != "Asked in the copy?"


def _tokens_of(app) -> dict[int, str]:
    with app.app_context():
        return _tokens()
