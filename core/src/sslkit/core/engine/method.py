"""The ``Method`` interface every SSL method of every plugin implements."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class Method(nn.Module):
    """An SSL method: encoder + views + heads + objective.

    - ``training_step(batch)`` returns the loss, or a dict with ``"loss"`` and other scalars
      to log.
    - ``embed(inputs)`` returns ``(batch, embed_dim)`` representations for evaluation and export.
    - ``on_train_step_end(step, total_steps)`` runs after each optimizer step (EMA teachers,
      schedules of momentum or temperature).
    - ``nested_dims``: the Matryoshka sizes the embedding was trained at (empty if none); export
      with ``--dim d`` keeps the first ``d`` coordinates.
    - ``export_module()`` returns the module traced for ONNX: ``forward(*tensors)`` with the
      tensors of ``inputs`` in the order of ``input_names()``.
    - ``find_unused_parameters``: true for a method whose steps leave some trainable parameters
      without a gradient by design (stages, alternating heads); DDP then looks for them each
      step (slower). Every other method uses all its parameters in every step.
    """

    embed_dim: int = 0
    nested_dims: tuple[int, ...] = ()
    find_unused_parameters: bool = False

    def training_step(self, batch: Any) -> torch.Tensor | dict[str, torch.Tensor]:
        raise NotImplementedError

    def embed(self, inputs: Any) -> torch.Tensor:
        raise NotImplementedError

    def on_train_step_end(self, step: int, total_steps: int) -> None:
        return None

    def export_module(self) -> nn.Module:
        return _EmbedModule(self)


class _EmbedModule(nn.Module):
    """``forward(*tensors)`` -> ``method.embed(inputs)``; a dict input is rebuilt from sorted keys."""

    def __init__(self, method: Method):
        super().__init__()
        self.method = method
        self.keys: list[str] | None = None

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        inputs: Any = tensors[0] if self.keys is None else dict(zip(self.keys, tensors))
        return self.method.embed(inputs)


def flatten_inputs(inputs: Any) -> tuple[list[str] | None, tuple[torch.Tensor, ...]]:
    """A tensor or a dict of tensors as (names or None, tensors)."""
    if isinstance(inputs, torch.Tensor):
        return None, (inputs,)
    if isinstance(inputs, dict):
        keys = sorted(inputs)
        return keys, tuple(inputs[k] for k in keys)
    raise TypeError(f"cannot export inputs of type {type(inputs).__name__}")


def move_to(obj: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move tensors (nested in dicts, lists, tuples, or objects with ``.to``) to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, dict):
        return {k: move_to(v, device, non_blocking) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(move_to(v, device, non_blocking) for v in obj)
    if hasattr(obj, "to") and callable(obj.to):
        # a shallow copy first: some batch types move in place (PyG's Data.to), and the data
        # set's own object must stay where it is for evaluation and export
        return copy.copy(obj).to(device)
    return obj
