"""The registry file: who may contribute what and who receives what, as operators write it.

`hub.registry.format` reads (and writes) the TOML registry file described in `docs/registry.md`
and turns it into the pure `hub.core.registry.Registry`, or into a list of problems that each name
the file, the entry and what to fix. `normandy.toml` is the realistic Normandy registry shipped
for the demo and the tests; `hub.registry.wire` maps registry events to the `RegistryEvent` Avro
record of `sitn.registry`, and `hub.registry.topic` reads that topic back and applies a registry
to it (publishing only what changed); `hub.registry.source` keeps a reader's copy of it.
"""
