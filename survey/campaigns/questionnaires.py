"""The questionnaire: the default aspects of the company, stored once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from survey.db import db
from survey.models import KIND_EXIT, KIND_SATISFACTION, Aspect, Questionnaire, QuestionnaireItem
from survey.scale import DEFAULT_ASPECTS

DEFAULT_QUESTIONNAIRE = "default"


def ensure_aspects() -> dict[str, Aspect]:
    """Create the default aspects that are missing; return all aspects by code.

    Flushes, never commits: the caller's transaction owns the change.
    """
    existing = {a.code: a for a in db.session.scalars(select(Aspect))}
    for position, spec in enumerate(DEFAULT_ASPECTS):
        if spec.code not in existing:
            aspect = Aspect(
                code=spec.code,
                label_zh=spec.zh,
                label_en=spec.en,
                question_zh=spec.question_zh,
                question_en=spec.question_en,
                position=position,
            )
            db.session.add(aspect)
            existing[spec.code] = aspect
    db.session.flush()
    return existing


def ensure_default_questionnaire() -> Questionnaire:
    """The default satisfaction questionnaire (every aspect, overall last)."""
    questionnaire = db.session.scalar(
        select(Questionnaire).where(Questionnaire.name == DEFAULT_QUESTIONNAIRE)
    )
    if questionnaire is None:
        aspects = ensure_aspects()
        questionnaire = Questionnaire(name=DEFAULT_QUESTIONNAIRE, kind=KIND_SATISFACTION)
        questionnaire.items = [
            QuestionnaireItem(aspect=aspects[spec.code], position=position)
            for position, spec in enumerate(DEFAULT_ASPECTS)
        ]
        db.session.add(questionnaire)
        db.session.flush()
    return questionnaire


def questionnaire_aspects(questionnaire_id: int) -> list[Aspect]:
    """The aspects a questionnaire asks about, in order (one query)."""
    questionnaire = db.session.scalars(
        select(Questionnaire)
        .where(Questionnaire.id == questionnaire_id)
        .options(selectinload(Questionnaire.items).selectinload(QuestionnaireItem.aspect))
    ).one()
    return [item.aspect for item in questionnaire.items]


#: The exit questionnaire's name: its questions are fixed (survey/answers/exit_surveys.py).
EXIT_QUESTIONNAIRE = "exit"


def ensure_exit_questionnaire() -> Questionnaire:
    """The exit questionnaire (its questions are fixed, so it has no aspect items).
    Flushes, never commits."""
    questionnaire = db.session.scalar(
        select(Questionnaire).where(Questionnaire.name == EXIT_QUESTIONNAIRE)
    )
    if questionnaire is None:
        questionnaire = Questionnaire(name=EXIT_QUESTIONNAIRE, kind=KIND_EXIT)
        db.session.add(questionnaire)
        db.session.flush()
    return questionnaire
