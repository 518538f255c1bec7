"""Replays of the hub's streams: rebuilding the regional store into a fresh database.

`hub.replay.rebuild` reads the topics the store projector consumes into any `RegionalStore`, up
to given positions, resuming from the positions the target already holds, and compares the result
with the live store at the same positions; `hub.replay.target` decides whether a database may
receive a rebuild; `hub.replay.swap` makes a verified rebuild the live store (SQLite file or
PostgreSQL database). `sitn replay rebuild` (`hub.cli.replay_rebuild`) puts them together.
"""
