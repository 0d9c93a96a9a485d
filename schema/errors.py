"""How errors leave the API.

- Domain errors (survey.errors) become GraphQL errors with `extensions.code`
  (BAD_USER_INPUT, NOT_FOUND, CONFLICT, ...) and `extensions.field` when known.
- GraphQL's own errors (validation, limits, permissions) pass unchanged, except
  that input echoed back is cut to MAX_ECHO characters.
- Input our scalars could not read (`InputError`) is said in the caller's language,
  with the variable's path in front, and extensions.code BAD_USER_INPUT.
- A statement cut off by the request's time limit (survey.db) is TIMEOUT.
- Anything else is a bug: logged with the request id and masked, so no internals
  (SQL, paths) reach the client; the id in `extensions.requestId` finds the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from graphql import GraphQLError, Node
from strawberry.extensions import MaskErrors

from survey.db import current_time_limit, is_statement_timeout
from survey.errors import DomainError, NotFoundError
from survey.transactions import rollback

log = logging.getLogger("schema")

BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
UNAUTHENTICATED = "UNAUTHENTICATED"
TIMEOUT = "TIMEOUT"
MASKED_MESSAGE = "Internal server error."

#: Input echoed back in an error message is cut to this many characters, then "…";
#: a whole message to MAX_MESSAGE (a 250 KB variable does not come back, or go to
#: the log, whole).
MAX_ECHO = 200
MAX_MESSAGE = 1_000
_LONG_QUOTED = re.compile(
    r"(['\"])"  # an opening quote,
    r"((?:(?!\1).){" + str(MAX_ECHO) + "})"  # the first MAX_ECHO characters inside,
    r"(?:(?!\1).)+\1",  # more, and the closing quote
    re.DOTALL,
)
#: How graphql-core introduces a variable it could not coerce.
_BAD_VARIABLE = re.compile(r"Variable '\$(?P<name>\w+)' has invalid value(?: at (?P<path>\S+))?: ")


def shown(value: object) -> str:
    """A value as an error message echoes it: its repr, at most MAX_ECHO characters."""
    if isinstance(value, str) and len(value) > MAX_ECHO:
        quoted = repr(value[:MAX_ECHO])
        return f"{quoted[:-1]}…{quoted[-1]}"
    text = repr(value)
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…"


def cap_echoes(message: str) -> str:
    """`message` with every quoted run over MAX_ECHO characters cut to MAX_ECHO and "…",
    and the whole at most MAX_MESSAGE characters."""
    if len(message) <= MAX_ECHO:
        return message
    message = _LONG_QUOTED.sub(lambda m: f"{m[1]}{m[2]}…{m[1]}", message)
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "…"


class InputError(GraphQLError):
    """A value our scalars cannot read, in each language the API speaks ("zh", "en"):
    ApiErrors answers in the caller's. `message` (what the log shows) is the English."""

    def __init__(
        self, messages: Mapping[str, str], node: Node | None = None, field: str | None = None
    ) -> None:
        extensions: dict[str, Any] = {"code": BAD_USER_INPUT}
        if field:
            extensions["field"] = field
        super().__init__(messages["en"], node, extensions=extensions)
        self.messages = dict(messages)


def timeout_message(locale: str, seconds: float) -> str:
    if locale == "en":
        return (
            f"The request took longer than its time limit of {seconds:g} s and was "
            "stopped. Ask for less (fewer fields, a narrower filter) or try again later."
        )
    return (
        f"请求超过了 {seconds:g} 秒的时间限制，已被中止。"
        "请少查一些（更少的字段、更窄的筛选条件），或稍后再试。"
    )


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

    def _locale(self) -> str:
        return getattr(self.execution_context.context, "locale", "zh")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed: list[GraphQLError] = []
        timed_out = False
        for error in errors:
            original = error.original_error
            if isinstance(error, InputError) or isinstance(original, InputError):
                processed.append(self._input_error(error))
            elif is_statement_timeout(original):
                timed_out = True
                processed.append(self._timeout_error(error))
            elif isinstance(original, DomainError):
                extensions: dict[str, Any] = {"code": original.code}
                if original.field:
                    extensions["field"] = original.field
                processed.append(
                    GraphQLError(
                        cap_echoes(original.message),
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
                processed.append(_capped(error))
        if timed_out:
            log.warning("GraphQL request %s was stopped by its time limit", self._request_id())
        return processed

    def _input_error(self, error: GraphQLError) -> GraphQLError:
        """Our words for a value a scalar refused, with the variable's path in front
        ("$input.defectedOn: ...") when it came in a variable."""
        source = error if isinstance(error, InputError) else error.original_error
        assert isinstance(source, InputError)
        locale = self._locale()
        message = source.messages.get(locale, source.message)
        extensions: dict[str, Any] = {"code": BAD_USER_INPUT}
        variable = _BAD_VARIABLE.match(error.message)
        if variable is not None:
            path = variable["path"] or ""
            colon = "：" if locale == "zh" else ": "
            message = f"${variable['name']}{path}{colon}{message}"
            field = path.rsplit(".", 1)[-1] if "." in path else ""
            if field and not field.endswith("]"):
                extensions["field"] = field
        if source.extensions and "field" in source.extensions:
            extensions.setdefault("field", source.extensions["field"])
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )

    def _timeout_error(self, error: GraphQLError) -> GraphQLError:
        limit = current_time_limit()
        seconds = limit.seconds if limit is not None else 0
        return GraphQLError(
            timeout_message(self._locale(), seconds),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": TIMEOUT},
        )

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


def _capped(error: GraphQLError) -> GraphQLError:
    """The error itself when its message echoes nothing long; else a copy, cut."""
    message = cap_echoes(error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=error.extensions,
    )
