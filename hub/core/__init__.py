"""The pure core: domain values and the rules over them.

Nothing here performs I/O, reads a clock, draws random numbers or depends on set-iteration order;
an import-linter contract (see pyproject.toml) keeps Kafka, SQL, HTTP and the CLI out.
"""
