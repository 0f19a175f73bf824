"""Pieces every domain of the KPI registry shares: vocabulary, numbers, the registry version and
HTTP caching (ETag/304). Not a domain: it has no router, seed or tasks."""
