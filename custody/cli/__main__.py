"""`python -m custody.cli`: the `custody` command."""

from custody.cli import main

main()
