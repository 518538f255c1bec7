"""One contract suite per port, run over every implementation (memory, SQLite, PostgreSQL),
and the wire schemas' compatibility."""
