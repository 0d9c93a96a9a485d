"""The GraphQL view that `web.create_app` mounts at /graphql."""

from __future__ import annotations

from typing import Any

import strawberry
from flask import Flask
from strawberry.flask.views import GraphQLView


@strawberry.type
class Query:
    @strawberry.field(description="The API version.")
    def api_version(self) -> str:
        return "1"


schema = strawberry.Schema(query=Query)


def make_graphql_view(app: Flask) -> Any:
    return GraphQLView.as_view("graphql", schema=schema, graphql_ide=None)
