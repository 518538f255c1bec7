"""The Avro schemas (``*.avsc``) of every record that crosses Kafka, shipped with the package.

This package holds data only; `importlib.resources.files("schemas")` locates the files.
"""
