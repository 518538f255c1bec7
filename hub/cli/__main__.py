"""`python -m hub.cli`: the `sitn` command (how the supervisor starts each stage's process)."""

from hub.cli import main

main()
