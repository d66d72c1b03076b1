"""The integration servers, reused for load-test smoke runs."""

from tests.integration.conftest import synthetic_home, synthetic_server  # noqa: F401
