"""A small trained digits run (the sslkit-testing reference plugin), shared by core/tests/evaluate and core/tests/export."""

from __future__ import annotations

from pathlib import Path

import pytest


def train_digits(root: Path, name: str = "digits", extra: tuple[str, ...] = ()) -> Path:
    from sslkit.core import api
    from sslkit.core.config import build_run_config
    from sslkit.testing.digits import plugin

    cfg = build_run_config(
        plugin,
        "simclr",
        overrides=[
            "train.max_steps=20",
            "train.epochs=2",
            "train.batch_size=128",
            "train.quiet=true",
            "train.log_every=5",
            f"train.out={root}",
            f"train.name={name}",
            *extra,
        ],
    )
    return api.pretrain(cfg, evaluate_default_task=False, log=lambda *_: None).run_dir


@pytest.fixture(scope="session")
def digits_plugin():
    from sslkit.core.plugin import register, unregister
    from sslkit.testing.digits import plugin

    register(plugin)
    yield plugin
    unregister(plugin.name)


@pytest.fixture(scope="session")
def digits_train():
    """``digits_train(root, name=..., extra=(...))`` trains a small digits run and returns its folder."""
    return train_digits
