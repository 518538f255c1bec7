"""Shared test support: example values, fakes, helpers that run real components."""
