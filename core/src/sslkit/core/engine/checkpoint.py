"""Checkpoints: weights as safetensors, the rest as JSON; written atomically."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_model, save_model

from sslkit.core.engine.method import Method
from sslkit.core.engine.rundir import CHECKPOINTS, RunDir, atomic_write_text
from sslkit.core.errors import RunError

WEIGHTS = "last.safetensors"
STATE = "last.json"


def save_checkpoint(run: RunDir, method: Method, *, step: int, epoch: int) -> Path:
    import json

    run.checkpoints.mkdir(parents=True, exist_ok=True)
    target = run.checkpoints / WEIGHTS
    tmp = run.checkpoints / f".{WEIGHTS}.tmp"
    save_model(method, str(tmp))
    tmp.replace(target)
    atomic_write_text(run.checkpoints / STATE, json.dumps({"step": step, "epoch": epoch}))
    return target


def load_weights(method: Method, run_dir: str | Path) -> dict:
    """Load the run's latest weights into ``method``; returns the checkpoint's JSON state."""
    import json

    folder = Path(run_dir) / CHECKPOINTS
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise RunError(
            f"{run_dir}: no checkpoint ({CHECKPOINTS}/{WEIGHTS} is missing); train it first or pass another run folder"
        )
    missing, unexpected = load_model(method, str(weights), strict=False)
    if missing or unexpected:
        raise RunError(
            f"{weights}: weights do not match the method "
            f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]}); was the run made with another version?"
        )
    state = folder / STATE
    return json.loads(state.read_text()) if state.is_file() else {}
