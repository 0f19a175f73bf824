"""Members' notification preferences (opt-outs per category)."""
