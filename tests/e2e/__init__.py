"""The hub end to end: publishers, every stage, the feeds, webhooks, the dashboard in a browser."""
