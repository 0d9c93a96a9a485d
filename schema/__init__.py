"""The GraphQL API for internal tools (strawberry).

One package per area of survey/, each with types.py, queries.py and mutations.py as
needed: registry (accounts, defections, staff), campaigns (and invitations), answers
(responses), follow_ups, analysis (summaries, drill-downs, insights). root.py
assembles Query and Mutation from the areas' classes. Shared: scalars.py (BigInt,
enums, ids), context.py, permissions.py (roles), loaders.py (batched loading),
pagination.py (keyset connections), errors.py (codes and masking), audit.py,
build.py (the schema and its limits), view.py (auth and the Flask view), cost/ (what
an operation costs; refusing dear ones, charging the token's budget), budget.py (the
budget's interface, implemented by web). The SDL is in schema.graphql. Resolvers
hold no SQL: they call survey/ services.
"""
