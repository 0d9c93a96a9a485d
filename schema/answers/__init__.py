"""Answers in the API: responses, their scores, and phone interviews."""
