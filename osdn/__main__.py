"""`python -m osdn` is the `osdn` command."""

from osdn.cli.main import main

main()
