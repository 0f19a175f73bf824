"""Indicators (KPIs): breakdowns, baselines, targets, SDG links; public reads and admin CRUD."""
