"""A declared encoder (``Method.embedder`` / ``encoder_spec``): the safetensors export is the
encoder's own ``state_dict``, and ``sslkit.core.export.load_encoder`` rebuilds it from the export
folder alone (the run folder deleted); ONNX holds exactly the encoder; a method that declares
none falls back to the deprecated guessed backbone."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch


def _embeddings(method, data) -> tuple[torch.Tensor, np.ndarray]:
    batch = next(iter(data.export_batches(4096)))
    with torch.no_grad():
        return batch.inputs, method.eval().embed(batch.inputs).numpy()


def test_backbone_loads_without_the_run_folder(digits_plugin, digits_train, tmp_path):
    from sslkit.core import api
    from sslkit.core.export import load_encoder
    from sslkit.testing.digits_impl import DigitsEncoder

    run = digits_train(tmp_path / "runs", name="gone")
    loaded = api.load_run(run)
    x, want = _embeddings(loaded.method, loaded.data)
    out = api.export(run, to="safetensors", out=tmp_path / "exports" / "st")
    shutil.rmtree(tmp_path / "runs")  # no run folder, no config, no data beside the export
    moved = shutil.move(str(out), str(tmp_path / "elsewhere"))

    encoder = load_encoder(moved)
    assert type(encoder) is DigitsEncoder and not encoder.training
    with torch.no_grad():
        np.testing.assert_allclose(encoder(x).numpy(), want, atol=1e-5, rtol=1e-5)
    card = json.loads((Path(moved) / "model_card.json").read_text())
    spec = {
        "build": "sslkit.testing.digits_impl:DigitsEncoder",
        "kwargs": {"features": 64, "hidden_dim": 128, "embed_dim": 32},
    }
    assert card["encoder_spec"] == card["safetensors"]["encoder_spec"] == spec
    # the encoder's own keys (as a timm model's): no projector, no "encoder." prefix
    assert sorted(encoder.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert card["safetensors"]["tensors"] == 4
    assert card["safetensors"]["parameters"] < card["safetensors"]["parameters_in_method"]


def test_a_matryoshka_export_loads_at_its_width(digits_run, tmp_path):
    from sslkit.core import api
    from sslkit.core.export import load_encoder

    loaded = api.load_run(digits_run)
    x, want = _embeddings(loaded.method, loaded.data)
    out = api.export(digits_run, to="safetensors", dim=8, out=tmp_path / "d8")
    with torch.no_grad():
        np.testing.assert_allclose(load_encoder(out)(x).numpy(), want[:, :8], atol=1e-5)
        full = load_encoder(out, truncate=False)(x).numpy()
    np.testing.assert_allclose(full, want, atol=1e-5)


def test_onnx_holds_exactly_the_encoder(digits_run, tmp_path):
    import onnx

    from sslkit.core import api

    loaded = api.load_run(digits_run)
    out = api.export(digits_run, to="onnx", out=tmp_path / "onnx")
    model = onnx.load(str(out / "encoder.onnx"))
    weights = sum(int(np.prod(t.dims)) for t in model.graph.initializer if len(t.dims) > 0)
    encoder = sum(p.numel() for p in loaded.method.encoder.parameters())
    assert weights == encoder  # the projector is not in the graph


def test_load_encoder_refuses_a_builder_outside_the_plugin(digits_run, tmp_path):
    from sslkit.core import api
    from sslkit.core.export import load_encoder
    from sslkit.core.export.encoder import ExportError

    out = api.export(digits_run, to="safetensors", out=tmp_path / "st")
    card = json.loads((out / "model_card.json").read_text())
    card["safetensors"]["encoder_spec"] = {"build": "os:system", "kwargs": {"command": "true"}}
    (out / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ExportError, match="outside the plugin's packages"):
        load_encoder(out)


def test_load_encoder_needs_a_safetensors_export(digits_run, tmp_path):
    from sslkit.core import api
    from sslkit.core.errors import UsageError
    from sslkit.core.export import load_encoder

    out = api.export(digits_run, to="npy", out=tmp_path / "npy")
    with pytest.raises(UsageError, match="holds a npy export"):
        load_encoder(out)


def build_legacy(cfg, data):
    """A method as written before ``embedder``: ``embed`` only."""
    from sslkit.core.engine.method import Method
    from sslkit.testing.digits_impl import DigitsSimCLR

    class Legacy(DigitsSimCLR):
        embedder = Method.embedder  # the default: a wrapper of embed, no spec

        def embed(self, inputs):
            return self.encoder(inputs)

    return Legacy(cfg, data.info["features"])


def build_inconsistent(cfg, data):
    """An embedder that is not what ``embed`` computes."""
    from sslkit.testing.digits_impl import DigitsSimCLR

    class Inconsistent(DigitsSimCLR):
        def embed(self, inputs):
            return 2 * self.encoder(inputs)

    return Inconsistent(cfg, data.info["features"])


@contextlib.contextmanager
def variant_run(plugin, build, tmp_path, name):
    """A run of a digits variant whose method is ``build``'s (2 steps), registered meanwhile."""
    from sslkit.core import api
    from sslkit.core.config import build_run_config
    from sslkit.core.plugin import Registry, register, unregister

    spec = dataclasses.replace(plugin.methods["simclr"], build=build)
    variant = dataclasses.replace(plugin, name=name, methods=Registry("method", [spec]), presets="")
    register(variant)
    try:
        cfg = build_run_config(
            variant,
            "simclr",
            overrides=[
                "train.max_steps=2",
                "train.batch_size=64",
                "train.quiet=true",
                f"train.out={tmp_path}",
                f"train.name={name}",
            ],
        )
        yield api.pretrain(cfg, evaluate_default_task=False, log=lambda *_: None).run_dir
    finally:
        unregister(name)


def test_an_embedder_that_is_not_embed_fails_the_export(digits_plugin, tmp_path):
    from sslkit.core import api
    from sslkit.core.export.encoder import ExportError

    with variant_run(digits_plugin, build_inconsistent, tmp_path, "baddigits") as run:
        error = pytest.raises(ExportError, match="does not reproduce the embeddings")
        with error:
            api.export(run, to="safetensors", out=tmp_path / "st")
    assert not (tmp_path / "st").exists()


def test_a_method_without_a_spec_falls_back_to_the_guessed_backbone(digits_plugin, tmp_path):
    from safetensors.torch import load_file

    from sslkit.core import api
    from sslkit.core.errors import UsageError
    from sslkit.core.export import load_encoder

    with variant_run(digits_plugin, build_legacy, tmp_path, "legacydigits") as run:
        with pytest.warns(DeprecationWarning, match="declares no encoder"):
            out = api.export(run, to="safetensors", out=tmp_path / "st")
        assert sorted(load_file(str(out / "backbone.safetensors"))) == [
            "encoder.0.bias",
            "encoder.0.weight",
            "encoder.2.bias",
            "encoder.2.weight",
        ]  # keys as in the method, the projector left out
        card = json.loads((out / "model_card.json").read_text())
        assert card["encoder_spec"] is None and card["safetensors"]["encoder_spec"] is None
        with pytest.raises(UsageError, match="declares no encoder_spec"):
            load_encoder(out)
