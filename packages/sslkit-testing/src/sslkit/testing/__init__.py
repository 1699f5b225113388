"""Conformance kit for sslkit plugins and shared pytest fixtures."""

from sslkit.testing.conformance import check_plugin

__all__ = ["check_plugin"]
