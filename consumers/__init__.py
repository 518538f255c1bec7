"""The diffusion side of the hub: what takes accepted regional changes to the diffusers.

- `diffusion_projector`: the diffusion stage, regional changes and ticks -> each diffuser's feed;
- `feeds`: the feed store (entries, cursors over partitions, API keys), in memory and SQL;
- `webhooks`: delivery, signed notifications of each feed's entries;
- `api`: the HTTP feed API (native JSON, JSON-LD, OpenAPI); `exports`: files of a diffuser's
  scope; `resync`: a diffuser's scope sent again; `feed_views`: what each diffuser holds of an
  offer, for the dashboard.

It builds on the hub's core, wire and store schema (`hub.core`, `hub.wire`, `hub.store`), and
never on `producers` (import-linter keeps the two independent).
"""
