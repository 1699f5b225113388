"""The ``Method`` interface every SSL method of every plugin implements."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class Method(nn.Module):
    """An SSL method: encoder + views + heads + objective.

    - ``training_step(batch, step)`` returns the loss, or a dict with ``"loss"`` and other
      scalars to log. ``step`` is the 0-based index of the optimizer step being computed,
      passed by the engine: every micro-batch of a step under ``train.accumulate`` gets the same
      ``step``, and a resumed run continues from the checkpoint's step. Schedules and stages
      read it instead of counting calls (a counter would count micro-batches, and a buffer
      would have to be checkpointed).
    - ``embed(inputs)`` returns ``(batch, embed_dim)`` representations for evaluation and export.
    - ``embedder(space=None)`` returns the encoder as a module ``E`` of its own: ``E(inputs) ==
      embed(inputs)`` (for ``space``), holding exactly the weights the embedding needs (the
      method's own submodules, shared: no copy). ``encoder_spec(space=None)`` says how to build
      ``E`` again without the method, its config or its data: ``{"build": "package.module:
      callable", "kwargs": {...}}`` (JSON-serialisable; sizes read from the data, such as a
      feature count, go into ``kwargs``) such that ``resolve(build)(**kwargs)`` is a fresh module
      with ``E``'s ``state_dict`` keys and shapes. The safetensors export writes
      ``E.state_dict()`` and the model card the spec, so :func:`sslkit.core.export.load_encoder`
      rebuilds the encoder from the export folder alone; ONNX traces ``E``. A method that
      overrides ``embedder`` may leave ``embed`` out (it defaults to ``embedder(space)(inputs)``);
      an embedder built by a :func:`sslkit.core.nn.records_init` class gives its spec itself.
      Without an override, ``embedder`` wraps ``embed`` and ``encoder_spec`` is None: the
      export then falls back to guessing the weights ``embed`` uses (deprecated).
    - ``spaces``: the names of the method's embedding spaces, when it has several (a two-tower
      recommender: ``("user", "item")``); empty (the default) means one space. A method with
      spaces takes ``embed(inputs, space=None)``: ``None`` is its default space, the first of
      ``spaces``; its data's ``eval_batches``/``export_batches`` take the same ``space=`` and
      yield that space's rows. Core calls ``embed(inputs)`` for the default space and
      ``embed(inputs, space=s)`` for another (:func:`embed_in`), so a one-space method keeps
      ``embed(inputs)``. ``space_dim(space)`` is the width of a space (default ``embed_dim``).
    - ``train_transform()`` returns the views made per training example in the DataLoader
      workers, or ``None`` (the default: the views are drawn in ``training_step``): a small
      picklable callable ``transform(example, rng) -> example`` (an instance of a module-level
      class holding only the views' settings, never the method or its modules) that the engine
      applies to every example of the training dataset before ``DomainData.collate``, with
      ``rng`` a ``torch.Generator`` seeded from (seed, epoch, example), so the views are the same
      with any ``train.num_workers`` and after a resume (:mod:`sslkit.core.engine.views`). Not
      called for full-batch data.
    - ``on_train_step_end(step, total_steps)`` runs after each optimizer step (EMA teachers,
      schedules of momentum or temperature), with the index of the step just taken.
    - ``stop_requested()`` is asked right after it: a non-empty reason ends training there
      (early stopping on a metric of the method's own, e.g. a recommender's validation
      recall); the method puts back the weights it wants to keep before answering. Under DDP
      the ranks agree (any rank's request stops all) in one small all-reduce a step, made only
      for methods that override it. The reason is the run's ``stop_reason``. A resumed run
      asks it once more before its first step: a method that keeps its stop in a buffer (saved
      with the checkpoint) stays stopped.
    - ``param_groups(weight_decay)`` returns the optimizer's parameter groups, or ``None`` (the
      default) for the engine's: ``train.weight_decay`` on every trainable parameter but biases,
      norm weights and other 1-d parameters (:func:`sslkit.core.engine.optim.no_decay_groups`).
      A method that needs other groups returns a list of dicts ``{"params": [...],
      "weight_decay": ...}`` (``weight_decay`` left out: ``train.weight_decay``) that together
      hold every trainable parameter once; the learning rate of every group follows the run's
      schedule.
    - Matryoshka (``method.matryoshka_dims``, applied by core to any method): ``matryoshka`` is
      True for a method whose embedding-level loss goes through :meth:`nested` (a string: why
      Matryoshka makes no sense for it; core quotes it when it refuses the key). Core builds
      the method, checks the sizes against ``nested_width()`` (default ``embed_dim``) and calls
      ``set_nested(sizes)``, which sets ``nested_sizes``, ``nested_dims`` and gives every
      :class:`NestedHeads` (heads reading the embedding, made with :meth:`nested_heads`) one
      head per size. ``nested(z, loss_of)`` is then the mean over sizes ``m`` of
      ``loss_of(z[..., :m], m)``, and exactly ``loss_of(z, nested_width())`` without sizes.
    - ``nested_dims``: the Matryoshka sizes the embedding was trained at (empty if none); export
      with ``--dim d`` keeps the first ``d`` coordinates. ``nested_export_dims(sizes)`` maps
      the trained sizes to them (default: the same; T-JEPA's per-token sizes times its tokens).
    - ``export_module()`` returns the module traced for ONNX: ``forward(*tensors)`` with the
      tensors of ``inputs`` in the order of ``input_names()``; a method with spaces takes
      ``export_module(space)`` (called with a space name only when one is exported).
    - ``find_unused_parameters``: true for a method whose steps leave some trainable parameters
      without a gradient by design (stages, alternating heads); DDP then looks for them each
      step (slower). Every other method uses all its parameters in every step.
    """

    embed_dim: int = 0
    nested_dims: tuple[int, ...] = ()
    nested_sizes: tuple[int, ...] = ()
    matryoshka: bool | str = False
    find_unused_parameters: bool = False
    spaces: tuple[str, ...] = ()

    def training_step(self, batch: Any, step: int) -> torch.Tensor | dict[str, torch.Tensor]:
        raise NotImplementedError

    def embed(self, inputs: Any, space: str | None = None) -> torch.Tensor:
        if type(self).embedder is Method.embedder:
            raise NotImplementedError(
                f"{type(self).__name__} implements neither embed nor embedder"
            )
        return (self.embedder() if space is None else self.embedder(space))(inputs)

    def embedder(self, space: str | None = None) -> nn.Module:
        """The module ``E`` with ``E(inputs) == embed(inputs)`` (of ``space``); default: a wrapper
        calling ``embed`` (the whole method: override it to declare the encoder)."""
        return MethodEmbedder(self, space)

    def encoder_spec(self, space: str | None = None) -> dict[str, Any] | None:
        """How to build ``embedder(space)`` again: ``{"build": "module:callable", "kwargs":
        {...}}``, or None when the method declares no encoder. Default: the spec the embedder
        recorded itself (:func:`sslkit.core.nn.records_init`), if any."""
        from sslkit.core.nn.spec import recorded_spec

        return recorded_spec(embedder_of(self, space))

    def space_dim(self, space: str | None = None) -> int:
        """The width of the embeddings of ``space`` (``None``: the default space)."""
        return int(self.embed_dim)

    def train_transform(self) -> Any:
        return None

    def on_train_step_end(self, step: int, total_steps: int) -> None:
        return None

    def stop_requested(self) -> str:
        return ""

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]] | None:
        return None

    def export_module(self, space: str | None = None) -> nn.Module:
        return _EmbedModule(embedder_of(self, space))

    # -- Matryoshka (method.matryoshka_dims; applied by core: sslkit.core.method_config) ------

    def nested_width(self) -> int:
        """The width Matryoshka sizes are prefixes of (``embed_dim``; T-JEPA: ``d_token``)."""
        return int(self.embed_dim)

    def nested_export_dims(self, sizes: tuple[int, ...]) -> tuple[int, ...]:
        """The embedding widths (``nested_dims``) the trained sizes give (default: the same)."""
        return tuple(sizes)

    def set_nested(self, sizes: tuple[int, ...]) -> None:
        """Train at the (checked, sorted, full width last) ``sizes``: called by core after the
        method is built, before the optimizer is."""
        self.nested_sizes = tuple(int(m) for m in sizes)
        self.nested_dims = tuple(int(d) for d in self.nested_export_dims(self.nested_sizes))
        for module in self.modules():
            if isinstance(module, NestedHeads):
                module.resize(self.nested_sizes)

    def nested_heads(self, make: Callable[[int], nn.Module]) -> NestedHeads:
        """A head reading the embedding, ``make(m)`` for a ``m``-wide input: one for the full
        width now, one per size once core sets sizes (``heads.at(m)``)."""
        return NestedHeads(make, (self.nested_width(),))

    def nested(self, z: Any, loss_of: Callable[[Any, int], Any]) -> Any:
        """The embedding-level loss under Matryoshka: ``z`` is a tensor ``(..., nested_width())``
        or a tuple or list of them (views, targets); ``loss_of(z_m, m)`` the loss (or a dict of
        named terms with ``"loss"``) of their prefixes ``z[..., :m]``. The mean over
        ``nested_sizes`` (:class:`sslkit.core.objectives.Matryoshka`), or exactly
        ``loss_of(z, nested_width())`` when no sizes are set."""
        width = self.nested_width()
        tensors = z if isinstance(z, (tuple, list)) else (z,)
        for t in tensors:
            if t.shape[-1] != width:
                raise ValueError(
                    f"{type(self).__name__}.nested: a tensor of width {t.shape[-1]}, expected "
                    f"the nested width {width}"
                )
        if not self.nested_sizes:
            return loss_of(z, width)
        from sslkit.core.objectives.matryoshka import Matryoshka

        per_size = [lambda z_m, m=m: loss_of(z_m, m) for m in self.nested_sizes]
        return Matryoshka(per_size, self.nested_sizes, reduction="mean")(z)


class NestedHeads(nn.ModuleList):
    """Heads reading the embedding, one per Matryoshka size in ascending order (``make(m)``
    takes an ``m``-wide input); ``at(m)`` is the head of size ``m``. Made by
    :meth:`Method.nested_heads`, resized by :meth:`Method.set_nested` (the head already made
    for a size is kept)."""

    def __init__(self, make: Callable[[int], nn.Module], sizes: tuple[int, ...]):
        super().__init__(make(m) for m in sizes)
        self.make = make
        self.sizes = tuple(sizes)

    def resize(self, sizes: tuple[int, ...]) -> None:
        have = dict(zip(self.sizes, self))
        heads = [have[m] if m in have else self.make(m) for m in sizes]
        for i in range(len(self) - 1, -1, -1):
            del self[i]
        self.extend(heads)
        self.sizes = tuple(sizes)

    def at(self, m: int) -> nn.Module:
        return self[self.sizes.index(m)]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A checkpoint of before the head was nested holds one head's keys right under prefix
        # (`proj.weight`; `proj.0.weight` for an nn.Sequential head): they are the full-width
        # head's (the last). A nested checkpoint's keys are `proj.<i>.<key>`. Keys are taken as
        # a single head's when they are exactly the full-width head's own keys, or when none
        # begins with a digit (a partial checkpoint of a head that is no nn.Sequential).
        under = [k for k in state_dict if k.startswith(prefix)]
        rest = {k[len(prefix) :] for k in under}
        single = rest == set(self[-1].state_dict()) if len(self) else False
        if rest and (single or not any(r[:1].isdigit() for r in rest)):
            for key in under:
                state_dict[f"{prefix}{len(self) - 1}.{key[len(prefix) :]}"] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class MethodEmbedder(nn.Module):
    """``forward(inputs)`` -> ``method.embed(inputs)`` (of ``space`` when given): the embedder
    of a method that declares none (its ``state_dict`` is the whole method's)."""

    def __init__(self, method: Method, space: str | None = None):
        super().__init__()
        self.method = method
        self.space = space
        self.training = method.training

    def forward(self, inputs: Any) -> torch.Tensor:
        return embed_in(self.method, inputs, self.space)


class _EmbedModule(nn.Module):
    """``forward(*tensors)`` -> ``embedder(inputs)``; a dict input is rebuilt from sorted keys
    (``keys``, set by the ONNX export)."""

    def __init__(self, embedder: nn.Module):
        super().__init__()
        self.embedder = embedder
        self.keys: list[str] | None = None
        self.training = embedder.training

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        inputs: Any = tensors[0] if self.keys is None else dict(zip(self.keys, tensors))
        return self.embedder(inputs)


def embed_in(method: Any, inputs: Any, space: str | None = None) -> torch.Tensor:
    """``method.embed(inputs)`` for the default space (``None``), ``method.embed(inputs,
    space=space)`` for a named one: methods with a single space keep ``embed(inputs)``."""
    return method.embed(inputs) if space is None else method.embed(inputs, space=space)


def embedder_of(method: Any, space: str | None = None) -> nn.Module:
    """``method.embedder()`` for the default space (``None``), ``method.embedder(space)`` for a
    named one; a wrapper of ``embed`` for an object without ``embedder``."""
    fn = getattr(method, "embedder", None)
    if not callable(fn):
        return MethodEmbedder(method, space)
    return fn() if space is None else fn(space)


def encoder_spec_of(method: Any, space: str | None = None) -> dict[str, Any] | None:
    """``method.encoder_spec(space)`` checked (:func:`sslkit.core.nn.check_spec`: plain JSON,
    a ``TypeError`` otherwise), or None when the method declares no encoder."""
    from sslkit.core.nn.spec import check_spec

    fn = getattr(method, "encoder_spec", None)
    if not callable(fn):
        return None
    spec = fn() if space is None else fn(space)
    return None if spec is None else check_spec(spec)


def method_spaces(method: Any) -> tuple[str, ...]:
    """The method's embedding spaces (empty: one, unnamed)."""
    return tuple(str(s) for s in getattr(method, "spaces", ()) or ())


def dim_of(method: Any, space: str | None = None) -> int:
    """The width of ``method``'s embeddings of ``space`` (``Method.space_dim``; ``embed_dim``
    for an object without it)."""
    fn = getattr(method, "space_dim", None)
    return int(fn(space)) if callable(fn) else int(method.embed_dim)


def check_space(method: Any, space: str | None) -> str | None:
    """The space to embed: ``space`` when the method has it, the default (first) space when
    ``space`` is None, None for a method with one unnamed space; an unknown space is a
    :class:`~sslkit.core.errors.UsageError` listing the method's spaces."""
    from sslkit.core.errors import UsageError

    spaces = method_spaces(method)
    if space is None:
        return spaces[0] if spaces else None
    if space in spaces:
        return space
    available = ", ".join(spaces) if spaces else "none (this method has one embedding space)"
    raise UsageError(f"unknown space {space!r}; available: {available}")


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
