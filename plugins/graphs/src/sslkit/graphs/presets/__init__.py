"""TOML presets: ``<method>/<preset>.toml`` (``default`` is applied when no preset is given)."""
