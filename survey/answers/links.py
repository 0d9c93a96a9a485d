"""What opening a personal survey link records, without ever standing in its way."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from survey.answers.responses import mark_opened
from survey.db import db

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
