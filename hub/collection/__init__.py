"""The collection stage: contributor topics in, regional changes, rejections, dead letters and
customer data out, each input's outputs, state and offset in one Kafka transaction
(docs/architecture.md, "Collection")."""
