"""No "Did you mean ...?" where introspection is off.

graphql-core suggests names it knows when a document or a variable misses ("Cannot
query field 'nam' on type 'Me'. Did you mean 'name'?"): that tells a stranger the
schema piece by piece, which turning introspection off is meant to stop.
graphql-core 3.3 can leave the suggestions out (`hide_suggestions`, in validation and
in coercing variables), but strawberry does not pass it on, so this module does: a
validation step (strawberry's ValidationCache, with the flag) and an executor.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

#: As schema.build.CACHED_DOCUMENTS: clients send the same few documents again and
#: again, so their validation is kept (LRU), keyed by document, rules and the flag.
CACHED_VALIDATIONS = 256


@lru_cache(maxsize=CACHED_VALIDATIONS)
def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    # The two rules strawberry's own validation adds to the rules it is given.
    every_rule = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, every_rule, hide_suggestions=hide_suggestions)


class CachedValidation(SchemaExtension):
    """strawberry's ValidationCache, with or without graphql-core's suggestions."""

    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__()
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = _validate(
            context.schema._schema,
            context.graphql_document,
            tuple(context.validation_rules),
            self.hide_suggestions,
        )
        yield


class QuietExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, coercing variables without suggestions."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)
