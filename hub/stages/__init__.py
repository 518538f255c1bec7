"""The hub's stages: each its own process, consumer group and composition root.

See docs/architecture.md for the stages, the topics each owns and what each guarantees.
"""
