"""The GraphQL API for internal tools (strawberry).

types.py (object types, enums, inputs, builders), queries.py, mutations.py,
permissions.py (roles), loaders.py (batched loading), pagination.py (keyset
connections), errors.py (codes and masking), context.py, build.py (the schema and
its limits), view.py (auth and the Flask view). The SDL is in schema.graphql.
"""
