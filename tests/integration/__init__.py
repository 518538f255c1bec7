"""One real component at a time: the broker, PostgreSQL, an HTTP server, the CLI on them."""
