"""One module per ``python -m models`` command; ``models.cli`` holds the parser."""
