"""A digits plugin whose module imports torch at import time (``sslkit plugins`` would load it
just to list the domain): the conformance kit's import path must fail on it."""

from __future__ import annotations

import dataclasses

import torch  # noqa: F401 - the fault under test

from sslkit.testing.digits import plugin as digits

plugin = dataclasses.replace(digits, name="heavydigits", presets="")
