"""``python -m facereid``: the command-line client (``facereid calibrate FOLDER``, ...)."""

from facereid.cli.main import main

main()
