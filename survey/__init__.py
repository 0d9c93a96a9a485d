"""KeyPulse domain core: key accounts, sampled survey campaigns, responses and analytics.

Nothing here knows about HTTP; `web/` and `schema/` call these services.
"""
