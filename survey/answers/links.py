"""What opening a personal survey link records, without ever standing in its way,
and whether a submission that met a database failure was stored all the same."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from survey.answers.responses import mark_opened
from survey.db import db
from survey.models import Response

log = logging.getLogger(__name__)


def note_opened(invitation_id: int) -> bool:
    """Record the first view of a link, but never let a locked database keep the form
    away: the opened-at time is a statistic, the person's answers are what matter.
    Returns whether this view was recorded as the first (False when it could not be)."""
    try:
        return mark_opened(invitation_id)
    except OperationalError:
        log.warning("could not record that invitation %s was opened", invitation_id)
        db.session.rollback()
        return False


def stored_after_failure(invitation_id: int) -> bool | None:
    """After a database error during a submission: was the response stored anyway?

    A COMMIT can succeed on the server while the connection drops before its answer
    arrives; the person must then hear "thank you", not "could not save" (and, sending
    again, "already answered"). Asked on a fresh transaction; True or False when the
    database answered, None when it still does not."""
    try:
        db.session.rollback()
        found = db.session.scalar(
            select(Response.id).where(Response.invitation_id == invitation_id).limit(1)
        )
        db.session.rollback()
    except SQLAlchemyError:
        log.warning("could not check whether invitation %s was answered", invitation_id)
        try:
            db.session.rollback()
        except SQLAlchemyError:
            log.debug("rollback after the check failed too", exc_info=True)
        return None
    return found is not None
