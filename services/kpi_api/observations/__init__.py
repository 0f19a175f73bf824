"""Observed values per indicator, breakdown and fiscal year, with every revision kept."""
