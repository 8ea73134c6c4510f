"""One module per job: each reads tables, maps the core and writes tables through the plumbing."""
