"""``GET /v1/available-numbers``: live search at seven, briefly cached in Redis."""
