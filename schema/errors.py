"""How errors leave the API.

- Domain errors (survey.errors) become GraphQL errors with `extensions.code`
  (BAD_USER_INPUT, NOT_FOUND, CONFLICT, ...) and `extensions.field` when known.
- GraphQL's own errors (validation, limits, permissions) pass unchanged.
- Anything else is a bug: logged with the request id and masked, so no internals
  (SQL, paths) reach the client; the id in `extensions.requestId` finds the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from survey.errors import DomainError, NotFoundError
from survey.transactions import rollback

log = logging.getLogger("schema")

BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
UNAUTHENTICATED = "UNAUTHENTICATED"
MASKED_MESSAGE = "Internal server error."


def bad_input(message: str, field: str | None = None) -> GraphQLError:
    extensions: dict[str, Any] = {"code": BAD_USER_INPUT}
    if field:
        extensions["field"] = field
    return GraphQLError(message, extensions=extensions)


@contextmanager
def service_errors(fields: dict[str, str]) -> Iterator[None]:
    """Around a mutation's service call: roll back on any failure; name fields as the
    API does; an unknown id given as input is the caller's mistake (BAD_USER_INPUT),
    as the contract says."""
    try:
        yield
    except DomainError as exc:
        rollback()
        field = fields.get(exc.field or "", exc.field)
        if isinstance(exc, NotFoundError):
            raise bad_input(exc.message, field) from exc
        exc.field = field
        raise
    except BaseException:
        rollback()
        raise


@contextmanager
def domain_errors() -> Iterator[None]:
    """An unknown id given as an argument is the caller's mistake (BAD_USER_INPUT)."""
    try:
        yield
    except NotFoundError as exc:
        rollback()
        raise bad_input(exc.message, exc.field) from exc
    except DomainError:
        rollback()
        raise


def is_unexpected(error: GraphQLError) -> bool:
    """Mask only errors whose cause is neither GraphQL's nor a domain error."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | DomainError)


class ApiErrors(MaskErrors):
    """MaskErrors that also gives domain errors their code, and logs what it masks."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=MASKED_MESSAGE)

    def _request_id(self) -> str | None:
        context = self.execution_context.context
        return getattr(context, "request_id", None)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed: list[GraphQLError] = []
        for error in errors:
            original = error.original_error
            if isinstance(original, DomainError):
                extensions: dict[str, Any] = {"code": original.code}
                if original.field:
                    extensions["field"] = original.field
                processed.append(
                    GraphQLError(
                        original.message,
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        extensions=extensions,
                    )
                )
            elif is_unexpected(error):
                processed.append(self.anonymise_error(error))
            else:
                processed.append(error)
        return processed

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = self._request_id()
        log.error(
            "unexpected error in GraphQL field %s, request id %s",
            ".".join(str(p) for p in error.path or ()),
            request_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": INTERNAL_SERVER_ERROR, "requestId": request_id},
        )
