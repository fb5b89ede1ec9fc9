"""The pages people work in (server-rendered with Jinja2): sessions, CSRF, language, and one module per
desk (officials, reception, citizens, auditors, administration)."""
