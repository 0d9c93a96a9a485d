"""Schedules in the API: periodic campaigns, one per cycle, and their trend."""
