"""FastAPI: the JSON API (OpenAPI at /docs) and, later, the pages officials, citizens and auditors use."""
