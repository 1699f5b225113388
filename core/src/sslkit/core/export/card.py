"""The model card written with every export (``model_card.json``; Parquet schema metadata too).

It says what produced the vectors and how to reproduce the inputs: the method (and its paper),
the encoder's spec (``encoder_spec``: how :func:`sslkit.core.export.load_encoder` builds it),
the preprocessing fitted in training (``data_state``), a fingerprint of the data schema and of
the exported rows, the run's latest evaluation metrics, and the library versions.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

CARD_VERSION = 1


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """The run's latest evaluation (``report/report.json``), the default task's metrics and the
    last training record (loss at the final step)."""
    out: dict[str, Any] = {}
    report = _read_json(run_dir / "report" / "report.json")
    if isinstance(report, dict) and isinstance(report.get("tasks"), dict):
        out["evaluation"] = {
            name: {k: v for k, v in m.items() if isinstance(v, int | float | str)}
            for name, m in report["tasks"].items()
        }
    default = _read_json(run_dir / "default_task.json")
    if isinstance(default, dict):
        out["default_task"] = default
    last = _last_training_record(run_dir / "metrics.jsonl")
    if last:
        out["training"] = last
    return out


def _last_training_record(path: Path) -> dict[str, Any]:
    """The last complete line of the run's ``metrics.jsonl`` (step, loss, ...)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            return rec
    return {}


def model_card(
    loaded: Any, dim: int, fmt: str, *, space: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The card of an export of ``loaded`` (an :class:`sslkit.core.runs.LoadedRun`); ``space``:
    the embedding space exported, for a method with several (``space`` and ``spaces``)."""
    from sslkit.core.engine.method import dim_of, encoder_spec_of, method_spaces
    from sslkit.core.environment import environment

    method = loaded.method
    spec = loaded.plugin.method(loaded.config.method)
    plugin = loaded.plugin
    full = dim_of(method, space)
    card: dict[str, Any] = {
        "sslkit_model_card": CARD_VERSION,
        "format": fmt,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "domain": loaded.config.domain,
        "plugin_version": plugin.version,
        "method": loaded.config.method,
        "paper": spec.paper,
        "embedding_dim": dim,
        "full_embedding_dim": full,
        "nested_dims": [int(d) for d in getattr(method, "nested_dims", ())],
        "truncated": dim != full,
        **({"space": space, "spaces": list(method_spaces(method))} if space is not None else {}),
        # how to build the encoder again (None: the method declares none)
        "encoder_spec": encoder_spec_of(method, space),
        "preprocessing": loaded.data.state(),
        "data": {
            "config": _plain(loaded.config.data),
            "info": loaded.data.info,
            "schema_fingerprint": loaded.data.fingerprint(),
        },
        "training": {
            "config": loaded.config.to_dict(),
            "checkpoint": loaded.checkpoint,
            "run": str(loaded.run_dir),
        },
        "metrics": run_metrics(Path(loaded.run_dir)),
        "versions": environment(),
    }
    card.update(extra)
    return card


def _plain(obj: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    return asdict(obj) if is_dataclass(obj) else obj


class RowsFingerprint:
    """SHA-256 over the exported rows (ids and model inputs, batch by batch): two exports with
    the same fingerprint embedded the same data in the same order."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.rows = 0

    def update(self, ids: np.ndarray, inputs: Any) -> None:
        self._h.update(np.ascontiguousarray(ids).tobytes())
        for t in _tensors(inputs):
            self._h.update(t.detach().cpu().contiguous().numpy().tobytes())
        self.rows += len(ids)

    def hexdigest(self) -> str:
        return self._h.hexdigest()[:32]


def _tensors(inputs: Any) -> list[Any]:
    import torch

    if isinstance(inputs, torch.Tensor):
        return [inputs]
    if isinstance(inputs, dict):
        return [t for k in sorted(inputs) for t in _tensors(inputs[k])]
    if isinstance(inputs, list | tuple):
        return [t for v in inputs for t in _tensors(v)]
    return []


def write_card(folder: Path, card: dict[str, Any]) -> None:
    (folder / "model_card.json").write_text(
        json.dumps(card, indent=2, default=str), encoding="utf-8"
    )
