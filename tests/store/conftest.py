"""Fixtures of the store's tests."""

from tests.test_terminal import daemon  # noqa: F401  (a SIMULATED daemon on its own socket, stopped at the end)
