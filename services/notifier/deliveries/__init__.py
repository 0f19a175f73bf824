"""The delivery ledger: inbox, deliveries and their attempts, and its API."""
