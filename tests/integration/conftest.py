"""Integration tests talk HTTP to real ``bentoml serve`` processes.

The servers are session fixtures in tests/conftest.py (``synthetic_server``, ``dlib_server``,
``synthetic_home``), shared with the load-test smoke run; tests that need a server of their own
start it with ``tests.harness.start_server``.
"""

from __future__ import annotations
