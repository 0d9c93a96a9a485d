"""Domain errors. `web/` turns them into pages, `schema/` into GraphQL errors."""

from __future__ import annotations


class DomainError(Exception):
    """Base for errors a user can act on. `code` is stable for API clients."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(DomainError):
    code = "NOT_FOUND"


class InvalidInputError(DomainError):
    code = "BAD_USER_INPUT"


class ConflictError(DomainError):
    code = "CONFLICT"


class SurveyClosedError(DomainError):
    code = "SURVEY_CLOSED"


class AlreadyRespondedError(DomainError):
    code = "ALREADY_RESPONDED"
