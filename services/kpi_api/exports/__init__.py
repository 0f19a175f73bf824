"""Exports: Open SDG data CSV and JSON."""
