"""Integration tests talk HTTP to real ``bentoml serve`` processes.

The servers are session fixtures in tests/conftest.py (``synthetic_server``, ``dlib_server``,
``synthetic_home``), shared with the load-test smoke run; tests that need a server of their own
start it with ``tests.harness.start_server``.
"""

from __future__ import annotations

# Kept importable from here for tests written against the old location (one harness only).
from tests.harness import REPO_ROOT, Server, free_port, start_server  # noqa: F401
