"""The static cost of an operation: its parsed document, variables resolved, priced
field by field from the weights table before anything runs.

cost(selection, n) = sum over its fields f of
    n × (own_f + items_f × each_f) + cost(f's selection, n × items_f)

starting from n = 1 at the root, plus REQUEST for the request itself. Fragments count
where they are spread; a field selected twice counts twice (an upper bound, like
@skip and @include, which are not looked at).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
)
from graphql.execution.values import get_argument_values, get_variable_values

from .units import INTROSPECTION, REQUEST, Scope
from .weights import WEIGHTS

_INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int | None:
    """The cost of the operation `operation_name` of `document` with `variables`, or
    None when it cannot run at all (no such operation, or variables that do not fit
    their types: execution refuses those before any resolver)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return None
    roots = {OperationType.QUERY: schema.query_type, OperationType.MUTATION: schema.mutation_type}
    root = roots.get(operation.operation)
    if root is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    pricer = _Pricer(schema, fragments, coerced)
    return REQUEST + pricer.selection(root, operation.selection_set, 1, Scope())


class _Pricer:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selection(self, parent: Any, selection_set: SelectionSetNode, n: int, scope: Scope) -> int:
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(parent, node, n, scope)
            elif isinstance(node, InlineFragmentNode):
                on = node.type_condition
                target = self.schema.get_type(on.name.value) if on is not None else parent
                total += self.selection(target, node.selection_set, n, scope)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments[node.name.value]
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selection(target, fragment.selection_set, n, scope)
        return total

    def field(self, parent: Any, node: FieldNode, n: int, scope: Scope) -> int:
        name = node.name.value
        if name.startswith("__"):  # __typename is free; the schema itself has a price
            return n * INTROSPECTION if name in _INTROSPECTION_FIELDS else 0
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields[name]
        try:
            args = get_argument_values(definition, node, self.variables)
        except GraphQLError:
            args = {}  # the field fails on its arguments before its resolver runs
        price = WEIGHTS[parent.name][name](args, scope)
        cost = n * (price.own + price.items * price.each)
        if node.selection_set is not None:
            cost += self.selection(
                get_named_type(definition.type),
                node.selection_set,
                n * price.items,
                price.scope if price.scope is not None else scope,
            )
        return cost
