"""``python -m facereid.cli``: the same as the ``facereid`` command."""

from facereid.cli.main import main

main()
