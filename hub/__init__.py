"""SITN Hub: the event-sourced synchronisation hub of a regional tourism information system.

`hub.core` holds the pure rules (no I/O); every other module of this package is an adapter
named after the technology it wraps (Kafka, SQLAlchemy, HTTP) or the command line.
"""
