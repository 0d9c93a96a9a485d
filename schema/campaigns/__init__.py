"""Campaigns in the API: samples, invitations, launching and closing."""
