"""The registry in the API: key accounts, their defections, and staff."""
