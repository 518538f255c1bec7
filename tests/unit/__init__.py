"""Pure rules, codecs and models, and in-process properties: no broker, database server, network."""
