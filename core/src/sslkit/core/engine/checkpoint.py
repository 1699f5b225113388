"""Full checkpoints: weights, optimizer, RNG and data-order state; no pickle anywhere.

One checkpoint is a folder ``checkpoints/step-00000120/``::

    model.safetensors      the method's state_dict (parameters and buffers: EMA teachers, queues)
    optimizer.safetensors  the optimizer's tensors (moments, momentum buffers)
    rng.safetensors        RNG states of torch, CUDA, numpy and Python, one row per rank
    state.json             step, epoch, position in the epoch, world size, learning-rate plan,
                           the optimizer's hyperparameters and scalar state

It is written into a hidden temporary folder, fsynced and renamed into place (atomic), then
``checkpoints/latest.json`` is replaced atomically to point at it, and older ones beyond
``keep`` are removed. A failed write (disk full, read-only folder) removes only its own
temporary folder: earlier checkpoints and ``latest.json`` stay as they were.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sslkit.core import distributed as D
from sslkit.core.engine.ddp import agree
from sslkit.core.engine.rundir import (
    CHECKPOINTS,
    LATEST,
    STATE,
    RunDir,
    atomic_write_text,
    follow_umask,
)
from sslkit.core.errors import RunError

FORMAT = 1
WEIGHTS = "last.safetensors"
"""``checkpoints/last.safetensors``: a hard link to (or copy of) the latest model weights."""
MODEL = "model.safetensors"
OPTIMIZER = "optimizer.safetensors"
RNG = "rng.safetensors"


@dataclass
class Position:
    """Where the loop is: optimizer steps taken, the epoch, and micro-batches of this epoch
    already trained on each rank (the data-order state, with the sampler's seed and epoch)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0


# ---------------------------------------------------------------------------------------------
# RNG state as tensors


def capture_rng(device: torch.device) -> dict[str, torch.Tensor]:
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    out = {
        "torch": torch.get_rng_state(),
        "numpy": torch.tensor([*keys.tolist(), pos, has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor([cached], dtype=torch.float64),
        "python": torch.tensor([version, *py_state], dtype=torch.int64),
        "python_gauss": torch.tensor([py_gauss is not None, py_gauss or 0.0], dtype=torch.float64),
    }
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state(device)
    return out


def restore_rng(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    npy = state["numpy"].tolist()
    np.random.set_state(
        (
            "MT19937",
            np.array(npy[:624], dtype=np.uint32),
            npy[624],
            npy[625],
            float(state["numpy_gauss"][0]),
        )
    )
    py = state["python"].tolist()
    has, gauss = state["python_gauss"].tolist()
    random.setstate((py[0], tuple(py[1:]), gauss if has else None))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].to(torch.uint8).cpu(), device)


def gather_rng(device: torch.device) -> dict[str, torch.Tensor]:
    """Every rank's RNG state, stacked ``(world_size, ...)`` (a collective under torchrun)."""
    mine = capture_rng(device)
    comm = device if device.type == "cuda" else torch.device("cpu")
    return {k: D.gather(v.to(comm).unsqueeze(0)).cpu() for k, v in mine.items()}


# ---------------------------------------------------------------------------------------------
# optimizer and model state as safetensors + JSON


def _optimizer_split(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, values in sd["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_load(optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in [*tensors.items(), *meta["scalars"].items()]:
        idx, _, key = name.partition(".")
        state.setdefault(int(idx), {})[key] = value
    groups = [  # JSON turned tuples (AdamW's betas) into lists
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()}
        for g in meta["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _model_tensors(module: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``state_dict`` for safetensors: tied tensors stored once (aliases), views copied."""
    out: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    storages: set[int] = set()
    for name, t in module.state_dict().items():
        t = t.detach()
        ptr = t.untyped_storage().data_ptr() if t.numel() else None
        key = (ptr, t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if ptr is not None and key in seen:
            aliases[name] = seen[key]
            continue
        if ptr is not None:
            seen[key] = name
        shared = ptr is not None and ptr in storages
        storages.add(ptr)
        t = t.cpu()
        out[name] = t.clone() if shared else t.contiguous()
    return out, aliases


def load_model_file(module: torch.nn.Module, path: Path) -> None:
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as fh:
        aliases = json.loads((fh.metadata() or {}).get("aliases", "{}"))
    for name, target in aliases.items():
        tensors[name] = tensors[target]
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:2] or [str(exc)]
        raise RunError(
            f"{path}: the weights do not match the method ({first[0].strip()}); "
            "was the run made with another method config or version?"
        ) from None


# ---------------------------------------------------------------------------------------------
# writing and reading checkpoints


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_folder(folder: Path, model, optimizer, rng, state: dict) -> None:
    folder.mkdir(parents=True)
    tensors, aliases = _model_tensors(model)
    save_file(tensors, str(folder / MODEL), metadata={"aliases": json.dumps(aliases)})
    opt_tensors, opt_meta = _optimizer_split(optimizer) if optimizer is not None else ({}, {})
    save_file(opt_tensors, str(folder / OPTIMIZER))
    save_file(rng, str(folder / RNG))
    (folder / STATE).write_text(
        json.dumps({**state, "optimizer": opt_meta}, indent=1, default=str), encoding="utf-8"
    )
    follow_umask(folder)  # safetensors writes its files 0600
    for name in (MODEL, OPTIMIZER, RNG, STATE):
        _fsync(folder / name)
    _fsync(folder)


def save_checkpoint(
    run: RunDir,
    method: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    position: Position,
    *,
    device: torch.device,
    extra: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write a checkpoint of ``position`` (rank 0 writes; every rank must call it under
    torchrun). Raises :class:`RunError` on every rank when the write fails."""
    rng = gather_rng(device)
    name = f"step-{position.step:08d}"
    final = run.checkpoints / name
    error: OSError | None = None
    if D.is_main():
        tmp = run.checkpoints / f".{name}.tmp"
        state = {
            "format": FORMAT,
            **asdict(position),
            "world_size": D.world_size(),
            "time": time.time(),
            **(extra or {}),
        }
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            _write_folder(tmp, method, optimizer, rng, state)
            if final.exists():  # the same step again (a resumed run stopped at once)
                shutil.rmtree(final)
            os.replace(tmp, final)
            atomic_write_text(
                run.checkpoints / LATEST, json.dumps({"checkpoint": name, "step": position.step})
            )
            _link_weights(final / MODEL, run.checkpoints / WEIGHTS)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            error = exc
        else:
            _prune(run.checkpoints, keep, name)
    if agree([float(error is not None)], device)[0] > 0:
        if error is None:
            raise RunError(
                f"rank 0 could not write the checkpoint of step {position.step}; see its error"
            )
        previous = latest_checkpoint(run.path)
        kept = (
            f"the previous checkpoint {previous} is intact"
            if previous
            else "no earlier checkpoint exists"
        )
        raise RunError(
            f"could not write the checkpoint of step {position.step} to {final}: "
            f"{error.strerror or error} ({kept}); free disk space or make the folder writable, "
            "then continue with --resume"
        )
    return final


def _link_weights(source: Path, target: Path) -> None:
    """Point ``target`` at ``source`` atomically (hard link; a copy where links are refused)."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _prune(folder: Path, keep: int, current: str) -> None:
    steps = sorted(p for p in folder.glob("step-*") if p.is_dir())
    for old in steps[: max(0, len(steps) - max(1, keep))]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder ``checkpoints/latest.json`` points at (or None when there is none)."""
    folder = Path(run_dir) / CHECKPOINTS
    pointer = folder / LATEST
    if pointer.is_file():
        target = folder / json.loads(pointer.read_text(encoding="utf-8"))["checkpoint"]
        if (target / MODEL).is_file():
            return target
    done = sorted(p for p in folder.glob("step-*") if (p / STATE).is_file())
    return done[-1] if done else None


def load_checkpoint(
    run_dir: str | Path,
    method: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    device: torch.device,
) -> tuple[Position, dict[str, Any]] | None:
    """Restore weights, optimizer and this rank's RNG from the latest checkpoint; returns
    its position and state, or None when the run has no checkpoint yet."""
    folder = latest_checkpoint(run_dir)
    if folder is None:
        return None
    state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    load_model_file(method, folder / MODEL)
    if optimizer is not None and state.get("optimizer"):
        _optimizer_load(optimizer, load_file(str(folder / OPTIMIZER)), state["optimizer"])
    rng = load_file(str(folder / RNG))
    row = D.rank() % max(1, int(state.get("world_size", 1)))
    restore_rng({k: v[row] for k, v in rng.items()}, device)
    position = Position(state["step"], state["epoch"], state["batch_in_epoch"])
    return position, state


def load_weights(method: torch.nn.Module, run_dir: str | Path) -> dict[str, Any]:
    """Load the run's latest weights into ``method``; returns the checkpoint's JSON state."""
    folder = latest_checkpoint(run_dir)
    if folder is None:
        raise RunError(
            f"{run_dir}: no checkpoint in {CHECKPOINTS}/; train it first (or continue it with "
            "--resume) or pass another run folder"
        )
    load_model_file(method, folder / MODEL)
    state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    state.pop("optimizer", None)
    return state
