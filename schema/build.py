"""The strawberry schema, with the abuse limits every request runs under."""

from __future__ import annotations

from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    StringValueNode,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.utils.logging import StrawberryLogger

from . import input_scalars
from .cost import CostLimit
from .errors import ApiErrors, cap_echoes, is_unexpected
from .frames import in_roomy_frame
from .root import Mutation, Query
from .suggestions import CachedValidation, QuietExecutor

#: Ten levels is enough for every real query (a drill-down three deep is seven).
MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000
#: A document longer than this, or with a longer string in it, is refused before it
#: runs: the token limit counts a 200,000-character string as one token. (Variables
#: are bounded by MAX_CONTENT_LENGTH and checked by the services.)
MAX_DOCUMENT_LENGTH = 20_000
MAX_STRING_LENGTH = 5_000
#: Clients send the same few documents again and again: their parse and validation
#: are kept (LRU), which halves a small query's cost (benchmarks/).
CACHED_DOCUMENTS = 256


class SizeLimitRule(ASTValidationRule):
    """Refuse huge documents and huge string literals (one "huge token")."""

    def enter_document(self, node: DocumentNode, *_args: Any) -> None:
        length = len(node.loc.source.body) if node.loc is not None else 0
        if length > MAX_DOCUMENT_LENGTH:
            self.report_error(
                GraphQLError(
                    f"The query is {length} characters long; at most "
                    f"{MAX_DOCUMENT_LENGTH} are allowed. Send long values as variables."
                )
            )

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if len(node.value) > MAX_STRING_LENGTH:
            self.report_error(
                GraphQLError(
                    f"A string in the query has {len(node.value)} characters; "
                    f"at most {MAX_STRING_LENGTH} are allowed.",
                    node,
                )
            )


# The limit rules are made once (QueryDepthLimiter and MaxAliasesLimiter would make a new
# rule class per request), so a cached validation is found again under the same rules.
DEPTH_RULE = max_depth_rule(MAX_DEPTH, None, None)
ALIASES_RULE = max_aliases_rule(MAX_ALIASES)


class ApiSchema(strawberry.Schema):
    """strawberry's Schema, logging errors with long echoed input cut as it is answered,
    and the caller's mistakes without a traceback (it would quote their input whole).
    Operations execute with room on CPython's frame stack (schema.frames): however deep
    the caller stands, the fields of a long list do not map and unmap a chunk each."""

    def execute_sync(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        return in_roomy_frame(super().execute_sync, *args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            error.message = cap_echoes(error.message)  # idempotent: cached errors may repeat
            if is_unexpected(error):
                StrawberryLogger.error(error, execution_context)
            else:
                StrawberryLogger.logger.error(error)


@lru_cache(maxsize=2)
def build_schema(*, introspection: bool = False) -> strawberry.Schema:
    """The API schema. Introspection is refused unless asked for (development), and
    without it errors suggest no names ("Did you mean ...?": schema.suggestions).

    Built once per process for each setting and shared by every app made there: it
    holds no app's state (its extensions are made per operation), and building it is
    most of an app's creation (about 37 of 45 ms; the test suite makes thousands)."""
    # Factories, not instances: each operation gets its own extension objects.
    extensions: list[Any] = [
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(AddValidationRules, [DEPTH_RULE, ALIASES_RULE, SizeLimitRule]),
        # Keyed by the text and the parse options (the token limit), then by the parsed
        # document and the rules: a document that failed is refused again the same way.
        partial(ParserCache, maxsize=CACHED_DOCUMENTS),
        partial(CachedValidation, hide_suggestions=not introspection),
        # Prices the operation, variables resolved, before any resolver runs.
        CostLimit,
        ApiErrors,
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    # Batching stays off: StrawberryConfig's batching_config is None by default.
    return ApiSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        execution_context_class=None if introspection else QuietExecutor,
        config=StrawberryConfig(scalar_map=input_scalars.SCALARS),
    )


#: The schema as exported to schema/schema.graphql (extensions do not change the SDL).
schema = build_schema(introspection=True)

#: Where `flask graphql export-schema` writes the SDL (a test keeps it current).
SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"
