"""The 17 SDGs and their 169 targets (reference data from seed/sdgs.yaml)."""
