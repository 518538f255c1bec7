"""Tools departmental systems, tourist offices and federators use to publish offer changes."""
