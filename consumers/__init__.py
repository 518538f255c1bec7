"""Client-side helpers for diffusers that consume the hub's per-diffuser feeds."""
