"""Scores of accounts in the API: value and health (survey.scoring)."""
