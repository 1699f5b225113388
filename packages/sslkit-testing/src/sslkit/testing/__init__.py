"""Conformance kit for sslkit plugins and shared pytest fixtures."""

from sslkit.testing.conformance import check_plugin
from sslkit.testing.encoder_spec import check_encoder_spec
from sslkit.testing.presets import check_preset_is_overrides

__all__ = ["check_encoder_spec", "check_plugin", "check_preset_is_overrides"]
