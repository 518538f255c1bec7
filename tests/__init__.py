"""SITN Hub's test suite (pure rules, contract suites, and integration on the real broker)."""
