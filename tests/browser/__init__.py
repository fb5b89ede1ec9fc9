"""Journeys through the pages in a real browser: Playwright driving Debian's chromium against ``motcua serve``."""
