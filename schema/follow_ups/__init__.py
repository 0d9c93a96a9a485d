"""Follow-up cases in the API, and whether following up works."""
