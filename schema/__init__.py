"""The GraphQL API for internal tools (strawberry)."""
