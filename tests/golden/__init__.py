"""Golden binary fixtures of every released schema version, and the script that writes them."""
