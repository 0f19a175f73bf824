"""End-to-end tests: real service processes driven by a real browser."""
