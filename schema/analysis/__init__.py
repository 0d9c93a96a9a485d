"""The analysis in the API: summaries, drill-downs, defection reasons, risk and insights."""
