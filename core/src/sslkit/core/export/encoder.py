"""Encoder exports: ONNX (checked against PyTorch with onnxruntime) and the encoder's weights
as safetensors (checked by loading them into the encoder rebuilt from its spec).

Both take the encoder the method declares, ``Method.embedder()`` (``E(inputs) ==
embed(inputs)``): ``Method.export_module()`` (by default ``E`` itself) is traced with the inputs
flattened by :func:`sslkit.core.engine.method.flatten_inputs` (a tensor, or a dict of tensors in
sorted key order); ``--dim d`` keeps the first ``d`` coordinates (Matryoshka). The safetensors
file is ``E.state_dict()`` and the model card holds ``Method.encoder_spec()``, so
:func:`load_encoder` rebuilds the encoder from the export folder alone (no run folder, no
data: only the plugin installed). For a method with several embedding spaces, ``space`` picks
one: ``export_module(space)``, ``embedder(space)``, ``encoder_spec(space)``.

A method without an ``encoder_spec`` (a third-party method written before it existed) still
exports its weights the old way, deprecated: the weights ``embed`` was seen to use
(:func:`backbone_state`), keys as in the method, loadable only into a method rebuilt from the
run's config and data.
"""

from __future__ import annotations

import copy
import warnings
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sslkit.core.data import space_example_inputs, space_export_batches
from sslkit.core.engine.method import Method, embed_in, flatten_inputs
from sslkit.core.errors import SSLKitError, UsageError

ONNX_FILE = "encoder.onnx"
WEIGHTS_FILE = "backbone.safetensors"
ATOL = 1e-4
RTOL = 1e-4


class ExportError(SSLKitError):
    """An export that would not reproduce the model (parity check failed) or cannot be made."""


class Truncated(nn.Module):
    """``forward(*tensors)`` of the method's export module, keeping the first ``dim`` coordinates."""

    def __init__(self, inner: nn.Module, dim: int):
        super().__init__()
        self.inner, self.dim = inner, dim

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.inner(*tensors)[:, : self.dim]


def _flatten(inputs: Any) -> tuple[list[str] | None, tuple[torch.Tensor, ...]]:
    try:
        return flatten_inputs(inputs)
    except TypeError as exc:
        raise UsageError(
            f"this method's inputs cannot be exported to ONNX ({exc}); export embeddings "
            "(--to parquet/npy/faiss) or the weights (--to safetensors) instead"
        ) from None


def sample_inputs(
    data: Any, batch_size: int, batches: int = 2, space: str | None = None
) -> list[Any]:
    """A few real batches of the export data (the first ones, of ``space``), for tracing and
    parity checks."""
    out = [space_example_inputs(data, 2, space)]
    out += [b.inputs for b in islice(space_export_batches(data, batch_size, space), batches)]
    return out


def export_onnx(
    method: Method,
    data: Any,
    folder: Path,
    dim: int,
    *,
    opset: int = 18,
    batch_size: int = 64,
    space: str | None = None,
) -> dict[str, Any]:
    """Write ``encoder.onnx`` (dynamic batch axis) of ``space`` (``None``: the method's only
    space) and check it against PyTorch on real batches with onnxruntime; returns facts for the
    model card."""
    import onnxruntime as ort

    cpu = copy.deepcopy(method).cpu().eval()
    samples = sample_inputs(data, batch_size, space=space)
    flat = [_flatten(s) for s in samples]
    keys, example = flat[0]
    names = list(keys) if keys else ["input"]
    inner = cpu.export_module() if space is None else cpu.export_module(space)
    if keys and getattr(inner, "keys", "absent") is None:
        inner.keys = list(keys)
    module = Truncated(inner, dim).eval()

    dynamic = _dynamic_axes(module, flat, names)
    path = folder / ONNX_FILE
    exporter = _export(module, example, names, dynamic, path, opset)

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    checked = 0
    with torch.no_grad():
        for _, tensors in flat:
            expected = module(*tensors).float().numpy()
            got = session.run(None, {n: t.numpy() for n, t in zip(names, tensors)})[0]
            if got.shape != expected.shape:
                raise ExportError(
                    f"ONNX encoder returns shape {got.shape}, PyTorch {expected.shape}; "
                    "the method's embed() is not traceable with a dynamic batch axis"
                )
            diff = np.abs(got - expected)
            worst = max(worst, float(diff.max(initial=0.0)))
            if not np.all(diff <= ATOL + RTOL * np.abs(expected)):
                raise ExportError(
                    f"ONNX encoder differs from PyTorch by up to {diff.max():.3g} "
                    f"(allowed {ATOL} + {RTOL}*|value|); nothing was exported"
                )
            checked += len(expected)
    return {
        "file": ONNX_FILE,
        "external_data": sorted(p.name for p in folder.glob(f"{ONNX_FILE}.*")),
        "inputs": [
            {
                "name": n,
                "dtype": str(t.dtype).replace("torch.", ""),
                "shape": [dynamic[j].get(a, int(s)) for a, s in enumerate(t.shape)],
            }
            for j, (n, t) in enumerate(zip(names, example))
        ],
        "output": {"name": "embedding", "shape": ["batch", dim], "dtype": "float32"},
        "opset": opset,
        "exporter": exporter,
        "parity": {"rows_checked": checked, "max_abs_diff": worst, "atol": ATOL, "rtol": RTOL},
        "onnxruntime": ort.__version__,
        **({"space": space} if space is not None else {}),
    }


def _dynamic_axes(module: nn.Module, flat: list, names: list[str]) -> list[dict[int, str]]:
    """Per input, its dynamic axes and their names: an axis is dynamic when its size differs
    between the sample batches, or when it is the leading axis and always as long as the
    batch of embeddings (``batch``). Axes whose sizes agree in every sample share one name,
    so the exporter knows they are equal. A graph's node axis (the whole graph in every
    sample, a different size from the batch of nodes embedded) stays static."""
    with torch.no_grad():
        rows = tuple(int(module(*tensors).shape[0]) for _, tensors in flat)
    named: dict[tuple[int, ...], str] = {rows: "batch"}
    dynamic: list[dict[int, str]] = []
    for j, t in enumerate(flat[0][1]):
        axes = {}
        for axis in range(t.ndim):
            sizes = tuple(int(f[1][j].shape[axis]) for f in flat)
            if len(set(sizes)) > 1 or (axis == 0 and sizes == rows):
                axes[axis] = named.setdefault(sizes, f"{names[j]}_dim{axis}")
        dynamic.append(axes)
    return dynamic


def _weight_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def _export(module, example, names, dynamic, path: Path, opset: int) -> str:
    """torch.export-based ONNX exporter; the TorchScript one when that fails."""
    dims: dict[str, Any] = {}
    shapes = tuple(
        {a: dims.setdefault(n, torch.export.Dim(n)) for a, n in axes.items()} for axes in dynamic
    )
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                module,
                tuple(example),
                None,
                input_names=names,
                output_names=["embedding"],
                dynamic_shapes=(shapes,),
                opset_version=opset,
                dynamo=True,
                verbose=False,
                optimize=True,
            )
            _unshadow(program)
            # one self-contained file unless the weights pass protobuf's 2 GB limit
            program.save(str(path), external_data=_weight_bytes(module) > 1.5e9)
            return f"torch.onnx (dynamo) {torch.__version__}"
        except Exception as exc:  # not every model exports through torch.export
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        try:
            torch.onnx.export(
                module,
                tuple(example),
                str(path),
                input_names=names,
                output_names=["embedding"],
                dynamic_axes={
                    **{n: axes for n, axes in zip(names, dynamic)},
                    "embedding": {0: "batch"},
                },
                opset_version=opset,
                dynamo=False,
            )
            return f"torch.onnx (torchscript) {torch.__version__}"
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    raise ExportError(
        "the encoder could not be exported to ONNX: "
        + "; ".join(errors)
        + " (export embeddings or --to safetensors instead)"
    )


def _unshadow(program: Any) -> None:
    """Rename intermediate values that reuse the name of a graph input or output. The dynamo
    exporter names a node's output after its op (``torch.cat`` -> ``cat``, ``nn.Embedding``
    -> ``embedding``); beside an input ``cat`` or the output ``embedding`` the saved model has
    two definitions of one name, which onnxruntime refuses. Renamed here, on the IR, where
    values are objects, not names."""
    graph = program.model.graph
    ends = {id(v) for v in [*graph.inputs, *graph.outputs]}
    reserved = {v.name for v in [*graph.inputs, *graph.outputs]}
    taken = {v.name for node in graph for v in node.outputs} | reserved
    for node in graph:
        for value in node.outputs:
            if value.name in reserved and id(value) not in ends:
                k = 1
                while f"{value.name}_{k}" in taken:
                    k += 1
                value.name = f"{value.name}_{k}"
                taken.add(value.name)


# ---------------------------------------------------------------------------------------------
# backbone-only safetensors


def backbone_state(
    method: Method, inputs: Any, space: str | None = None
) -> dict[str, torch.Tensor]:
    """The parameters and buffers ``method.embed`` uses (for ``space``): those of every
    submodule called while embedding ``inputs``, plus parameters reached by autograd (used
    outside a module call). Projection heads, predictors, unused teachers and the towers of
    other spaces are left out."""
    called: set[int] = set()
    hooks = [
        m.register_forward_pre_hook(lambda mod, _args: called.add(id(mod)))
        for m in method.modules()
    ]
    params = dict(method.named_parameters())
    was = {n: p.requires_grad for n, p in params.items()}
    try:
        for p in params.values():
            p.requires_grad_(True)
        with torch.enable_grad():
            z = embed_in(method, inputs, space)
        used: set[str] = set()
        if z.requires_grad:  # embed() may run under no_grad: then module calls decide alone
            grads = torch.autograd.grad(z.float().sum(), list(params.values()), allow_unused=True)
            used = {n for n, g in zip(params, grads) if g is not None}
    finally:
        for h in hooks:
            h.remove()
        for n, p in params.items():
            p.requires_grad_(was[n])
    keep: dict[str, torch.Tensor] = {}
    for mod_name, mod in method.named_modules():
        if id(mod) not in called and mod is not method:
            continue
        prefix = f"{mod_name}." if mod_name else ""
        for n, p in mod.named_parameters(recurse=False):
            if mod is not method or prefix + n in used:
                keep[prefix + n] = p
        for n, b in mod.named_buffers(recurse=False):
            keep[prefix + n] = b
    for n in used:
        keep.setdefault(n, params[n])
    return {k: v.detach().cpu().contiguous().clone() for k, v in sorted(keep.items())}


def export_backbone(
    loaded: Any, folder: Path, dim: int, *, batch_size: int = 64, space: str | None = None
) -> dict[str, Any]:
    """Write ``backbone.safetensors``: the weights of the encoder the method declares
    (``embedder(space).state_dict()``), and check that the encoder rebuilt from
    ``encoder_spec(space)`` with only these weights embeds exactly as the trained method;
    returns facts for the model card. A method without a spec: :func:`_export_guessed`."""
    from safetensors.torch import load_file, save_file

    from sslkit.core.engine.method import embedder_of, encoder_spec_of, move_to

    cpu = copy.deepcopy(loaded.method).cpu().eval()
    spec = encoder_spec_of(cpu, space)
    samples = sample_inputs(loaded.data, batch_size, batches=1, space=space)
    if spec is None:
        return _export_guessed(loaded, cpu, samples, folder, dim, space)
    encoder = embedder_of(cpu, space).eval()
    state = {k: v.detach().cpu().contiguous().clone() for k, v in encoder.state_dict().items()}
    path = folder / WEIGHTS_FILE
    meta = {"format": "pt", "embedding_dim": str(dim), **({"space": space} if space else {})}
    save_file(state, str(path), metadata=meta)

    fresh = build_encoder(spec, load_file(str(path)))
    with torch.no_grad():
        for s in samples:
            s = move_to(s, torch.device("cpu"))
            a = embed_in(cpu, s, space).float()[:, :dim]
            b = fresh(s).float()[:, :dim]
            if a.shape != b.shape:
                diff = f"shape {tuple(b.shape)}, embed gives {tuple(a.shape)}"
            elif not torch.allclose(a, b, atol=1e-5, rtol=1e-5):
                diff = f"max diff {(a - b).abs().max():.3g}"
            else:
                continue
            raise ExportError(
                f"the encoder rebuilt from {spec['build']} does not reproduce the embeddings "
                f"({diff}): the method's embedder() or encoder_spec() is not its embed()"
            )
    return {
        "file": WEIGHTS_FILE,
        "tensors": len(state),
        "parameters": int(sum(v.numel() for v in state.values())),
        "parameters_in_method": int(sum(v.numel() for v in cpu.state_dict().values())),
        "encoder_spec": spec,
        **({"space": space} if space is not None else {}),
        "load": "sslkit.core.export.load_encoder(folder): the encoder of encoder_spec with "
        "these weights (safetensors.torch.load_file, load_state_dict strict), in eval mode",
    }


def _export_guessed(
    loaded: Any, cpu: Method, samples: list[Any], folder: Path, dim: int, space: str | None
) -> dict[str, Any]:
    """Deprecated: the export of a method that declares no encoder (no ``encoder_spec``). The
    weights ``embed`` uses, found by running it (:func:`backbone_state`), keys as in the method;
    checked by loading them into a method rebuilt from the run's config and data, which is
    also the only way to load them."""
    from safetensors.torch import load_file, save_file

    from sslkit.core.engine.method import move_to
    from sslkit.core.method_config import build_method

    warnings.warn(
        f"{type(cpu).__name__} declares no encoder (Method.embedder/encoder_spec): its "
        "safetensors export guesses the weights embed() uses and loads only into a method "
        "rebuilt from the run; this fallback is deprecated",
        DeprecationWarning,
        stacklevel=3,
    )
    state = backbone_state(cpu, samples[0], space)
    total = sum(v.numel() for v in cpu.state_dict().values())
    kept = sum(v.numel() for v in state.values())
    path = folder / WEIGHTS_FILE
    meta = {"format": "pt", "embedding_dim": str(dim), **({"space": space} if space else {})}
    save_file(state, str(path), metadata=meta)

    fresh = build_method(loaded.plugin, loaded.config.method, loaded.config.model, loaded.data)
    fresh.eval()
    fresh.load_state_dict(load_file(str(path)), strict=False)
    with torch.no_grad():
        for s in samples:
            a = embed_in(cpu, move_to(s, torch.device("cpu")), space).float()[:, :dim]
            b = embed_in(fresh, move_to(s, torch.device("cpu")), space).float()[:, :dim]
            if not torch.allclose(a, b, atol=1e-5, rtol=1e-5):
                raise ExportError(
                    "the backbone weights do not reproduce the embeddings (max diff "
                    f"{(a - b).abs().max():.3g}): embed() uses state this export could not find"
                )
    return {
        "file": WEIGHTS_FILE,
        "tensors": len(state),
        "parameters": int(kept),
        "parameters_in_method": int(total),
        "prefixes": sorted({k.split(".")[0] for k in state}),
        "encoder_spec": None,
        **({"space": space} if space is not None else {}),
        "load": "deprecated (the method declares no encoder_spec): build the method from "
        "training.config, then method.load_state_dict(safetensors.torch.load_file(file), "
        "strict=False)",
    }


# ---------------------------------------------------------------------------------------------
# loading an exported encoder


class Prefix(nn.Module):
    """``encoder(inputs)[:, :dim]``: a Matryoshka export's encoder at its exported width."""

    def __init__(self, encoder: nn.Module, dim: int):
        super().__init__()
        self.encoder, self.dim = encoder, dim

    def forward(self, inputs: Any) -> torch.Tensor:
        return self.encoder(inputs)[:, : self.dim]


def _allowed_roots(domain: str) -> tuple[str, ...]:
    """The packages an encoder spec of ``domain`` may name: the installed plugin's own (those of
    its data loader and methods) and sslkit.core."""
    from sslkit.core.plugin import get_plugin

    plugin = get_plugin(domain)
    refs = [plugin.load_data, *(m.build for m in plugin.methods.values())]
    roots = {"sslkit.core"}
    for ref in refs:
        module = ref.partition(":")[0] if isinstance(ref, str) else getattr(ref, "__module__", "")
        parts = module.split(".")
        if parts and parts[0]:
            roots.add(".".join(parts[:2]) if parts[0] == "sslkit" and len(parts) > 1 else parts[0])
    return tuple(sorted(roots))


def build_encoder(
    spec: dict[str, Any],
    state: dict[str, torch.Tensor] | None = None,
    *,
    allowed: tuple[str, ...] | None = None,
) -> nn.Module:
    """The module ``spec`` describes (``resolve(build)(**kwargs)``), with ``state`` loaded
    (strict: every key, no other) when given, in eval mode. ``allowed``: the packages ``build``
    may come from (a model card names a callable to run: only the plugin's own are)."""
    from sslkit.core.nn.spec import check_spec
    from sslkit.core.plugin import resolve

    spec = check_spec(spec)
    module_name = spec["build"].partition(":")[0]
    if allowed is not None and not any(
        module_name == root or module_name.startswith(root + ".") for root in allowed
    ):
        raise ExportError(
            f"the encoder spec names {spec['build']!r}, outside the plugin's packages "
            f"({', '.join(allowed)}); refusing to run it"
        )
    try:
        builder = resolve(spec["build"])
    except (ImportError, AttributeError) as exc:
        raise ExportError(
            f"cannot import the encoder builder {spec['build']!r} ({exc}): is the plugin that "
            "exported it installed (at a version with this builder)?"
        ) from None
    module = builder(**spec["kwargs"])
    if not isinstance(module, nn.Module):
        raise ExportError(f"{spec['build']} built a {type(module).__name__}, not a torch module")
    if state is not None:
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ExportError(
                f"the weights do not fit the encoder {spec['build']} builds: {exc}"
            ) from None
    return module.eval()


def load_encoder(
    folder: str | Path, device: str | torch.device = "cpu", *, truncate: bool = True
) -> nn.Module:
    """The encoder of a safetensors export, from the export folder alone: ``model_card.json``'s
    ``encoder_spec`` built by the installed plugin of the card's domain, ``backbone.safetensors``
    loaded into it (strict), on ``device``, in eval mode. ``encoder(inputs)`` gives the
    embeddings of the trained method's ``embed(inputs)`` (inputs preprocessed as the card's
    ``preprocessing`` says); for an export made with ``--dim d`` the first ``d`` coordinates
    (``truncate=False``: the full width)."""
    import json

    from safetensors.torch import load_file

    folder = Path(folder)
    card_path = folder / "model_card.json"
    if not card_path.is_file():
        raise UsageError(f"{folder} is not an sslkit export (no model_card.json)")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    section = card.get("safetensors")
    if card.get("format") != "safetensors" or not isinstance(section, dict):
        raise UsageError(
            f"{folder} holds a {card.get('format')} export; load_encoder reads a safetensors one "
            "(sslkit export RUN --to safetensors)"
        )
    spec = section.get("encoder_spec") or card.get("encoder_spec")
    if not spec:
        raise UsageError(
            f"{folder} was exported from a method that declares no encoder_spec (deprecated): "
            "its weights load only into the method rebuilt from the run's config "
            f"({section.get('load', '')})"
        )
    state = load_file(str(folder / section.get("file", WEIGHTS_FILE)), device=str(device))
    encoder = build_encoder(spec, state, allowed=_allowed_roots(str(card["domain"]))).to(device)
    dim, full = int(card.get("embedding_dim", 0)), int(card.get("full_embedding_dim", 0))
    if truncate and card.get("truncated") and 0 < dim < full:
        return Prefix(encoder, dim).eval()
    return encoder.eval()
