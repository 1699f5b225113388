"""Matryoshka applied by core to the methods of every plugin (``method.matryoshka_dims``): a
short run of every method of every plugin on the plugin's small sample trains, records
``nested_dims``, and an export at a nested size is the first coordinates of the full export; a
method that cannot train sizes, or an invalid size, is one clear error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

SMALL = {
    "tabular": ["data.max_rows=300", "train.batch_size=64"],
    "graphs": [],
    "events": ["data.path=age-group", "method.hidden=32", "train.batch_size=16"],
}
# (domain, method, a nested size, extra options): every method of every plugin
CASES = [
    ("tabular", "tjepa", 4, ["method.d_token=8", "method.n_heads=2", "method.n_layers=1"]),
    ("tabular", "scarf", 8, ["method.out_dim=16", "method.hidden_dim=32"]),
    ("tabular", "vime", 8, ["method.out_dim=16", "method.hidden_dim=32"]),
    ("graphs", "dgi", 8, ["method.hidden_dim=16"]),
    ("graphs", "grace", 8, ["method.hidden_dim=16"]),
    ("graphs", "bgrl", 8, ["method.hidden_dims=[16]"]),
    (
        "graphs",
        "mvgrl",
        8,
        ["method.hidden_dim=16", "method.sample_size=200", "method.ppr_topk=16"],
    ),
    ("graphs", "graphmae", 8, ["method.hidden_dim=16", "method.num_heads=2"]),
    # the embedding concatenates the layers (2 x 8): size 12 is layer 1 and half of layer 2
    ("graphs", "graphcl", 12, ["method.hidden_dim=8", "method.num_layers=2"]),
    # one warm-up step, then one hyperedge-filling step: both stages train the sizes
    ("graphs", "hypeboy", 8, ["method.hidden_dim=16", "method.warmup_epochs=1"]),
    ("graphs", "tricl", 8, ["method.hidden_dim=16", "method.proj_dim=16"]),
    ("events", "coles", 8, []),
    ("events", "cpc", 8, []),
    ("events", "mem", 8, ["method.heads=2", "method.layers=1", "method.mask_mode=field"]),
]


def _pretrain(tmp_path, domain, method, extra):
    from sslkit.core import api

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return api.pretrain(
            domain,
            method,
            overrides=[
                *SMALL[domain],
                *extra,
                "train.max_steps=2",
                "train.progress=false",
                "train.tensorboard=false",
                f"train.out={tmp_path}",
                f"train.name={domain}-{method}",
            ],
            evaluate_default_task=False,
            log=lambda *a, **k: None,
        )


@pytest.mark.parametrize("domain, method, m, extra", CASES, ids=[f"{d}-{m}" for d, m, *_ in CASES])
def test_a_nested_run_trains_and_exports_its_prefix(tmp_path, domain, method, m, extra):
    from sslkit.core import api

    run = _pretrain(tmp_path, domain, method, [*extra, f"method.matryoshka_dims=[{m}]"])
    loaded = api.load_run(run.run_dir)
    dims = loaded.method.nested_dims
    assert len(dims) == 2 and dims[-1] == loaded.method.embed_dim
    full = np.load(api.export(run.run_dir, to="npy", out=tmp_path / "full") / "embeddings.npy")
    part = np.load(
        api.export(run.run_dir, to="npy", out=tmp_path / "part", dim=dims[0]) / "embeddings.npy"
    )
    assert part.shape[1] == dims[0]
    np.testing.assert_allclose(part, full[:, : dims[0]], atol=1e-6)


def test_every_method_of_every_plugin_trains_sizes():
    from sslkit.core.plugin import get_plugin

    every = {(d, m) for d in SMALL for m in get_plugin(d).methods}
    assert every == {(d, m) for d, m, *_ in CASES}


def test_graph_level_graphcl_trains_and_exports_its_prefix(tmp_path):
    """GraphCL on data of many graphs: a projection head per size, one embedding per graph."""
    import torch
    from torch_geometric.data import Data

    from sslkit.core import api
    from sslkit.graphs.data import register_graph

    gen = torch.Generator().manual_seed(0)
    graphs = []
    for i in range(12):
        n = 5 + i % 4
        ring = torch.arange(n)
        edges = torch.stack([ring, (ring + 1) % n])
        graphs.append(
            Data(
                x=torch.randn(n, 3, generator=gen),
                edge_index=torch.cat([edges, edges.flip(0)], 1),
                y=torch.tensor([i % 2]),
            )
        )
    path = register_graph("matryoshka-rings", graphs)
    extra = ["method.hidden_dim=8", "method.num_layers=2", "train.batch_size=6"]
    run = _pretrain(
        tmp_path, "graphs", "graphcl", [f"data.path={path}", *extra, "method.matryoshka_dims=[4]"]
    )
    method = api.load_run(run.run_dir).method
    assert method.nested_dims == (4, 16)
    assert [head[0].in_features for head in method.projector] == [4, 16]
    full = np.load(api.export(run.run_dir, to="npy", out=tmp_path / "full") / "embeddings.npy")
    part = np.load(
        api.export(run.run_dir, to="npy", out=tmp_path / "part", dim=4) / "embeddings.npy"
    )
    assert full.shape == (12, 16)
    np.testing.assert_allclose(part, full[:, :4], atol=1e-6)


def test_a_method_that_cannot_train_sizes_is_refused_with_its_reason():
    """Every plugin's methods train sizes; a method that says why it cannot (a string in
    ``matryoshka``) is refused with that reason, in one line naming the key."""
    from torch import nn

    from sslkit.core.engine.method import Method
    from sslkit.core.errors import UsageError
    from sslkit.core.method_config import apply_nested

    class Hashed(Method):
        matryoshka = "its embedding is a hash: no prefix of it means anything"

        def __init__(self):
            super().__init__()
            self.embed_dim = 16
            self.encoder = nn.Linear(4, 16)

    with pytest.raises(UsageError) as err:
        apply_nested(Hashed(), [8], name="hashed")
    text = str(err.value)
    assert "\n" not in text and "method.matryoshka_dims" in text and "'hashed'" in text
    assert "its embedding is a hash" in text
    assert apply_nested(Hashed(), []).nested_dims == ()  # without sizes: nothing to refuse


def test_an_invalid_size_is_one_line(tmp_path):
    from sslkit.core.errors import UsageError

    with pytest.raises(UsageError, match=r"method.matryoshka_dims = \[999\]: each size"):
        _pretrain(
            tmp_path, "graphs", "grace", ["method.hidden_dim=16", "method.matryoshka_dims=[999]"]
        )


@pytest.mark.parametrize("method", ["tricl", "hypeboy", "cpc", "mem"])
def test_a_checkpoint_of_before_sizes_loads_into_the_full_width_heads(method):
    """Checkpoints of before the heads were made per size hold one head's keys under its name
    (``proj_node.0.weight``, ``predictors.1.weight``): they load, strictly without sizes, and
    into the full-width heads of a method with sizes."""
    import re

    import torch

    from sslkit.core.engine.method import NestedHeads
    from sslkit.core.method_config import apply_nested

    if method in ("tricl", "hypeboy"):
        from sslkit.graphs import configs as C
        from sslkit.graphs.methods.hypeboy import HypeBoy
        from sslkit.graphs.methods.tricl import TriCL

        def make():
            if method == "tricl":
                return TriCL(C.TriCLConfig(hidden_dim=8, proj_dim=8), 5)
            return HypeBoy(C.HypeBoyConfig(hidden_dim=8), 5)
    else:
        from sslkit.events.configs import CPCConfig, MEMConfig
        from sslkit.events.methods.cpc import CPC
        from sslkit.events.methods.mem import MEM

        info = {"cat_sizes": [4, 3], "num_fields": ["amount"]}

        def make():
            if method == "cpc":
                return CPC(CPCConfig(hidden=8, steps=2), info)
            return MEM(MEMConfig(hidden=8, heads=2, layers=1), info)

    torch.manual_seed(0)
    trained = make()
    heads = [n for n, m in trained.named_modules() if isinstance(m, NestedHeads)]
    assert heads
    # the keys a checkpoint of before Matryoshka has: each NestedHeads' one head right under it
    pattern = re.compile("^(" + "|".join(re.escape(h) for h in heads) + r")\.0\.")
    old = {pattern.sub(r"\1.", k): v for k, v in trained.state_dict().items()}
    assert set(old) != set(trained.state_dict())
    plain = make()
    plain.load_state_dict(old)  # strict
    for key, value in trained.state_dict().items():
        assert torch.equal(plain.state_dict()[key], value), key
    nested = apply_nested(make(), [4])
    missing = nested.load_state_dict(old, strict=False).missing_keys
    assert missing and all(pattern.match(k) for k in missing)  # only the new 4-wide heads
    for name in heads:
        full, loaded = trained.get_submodule(name)[-1], nested.get_submodule(name)[-1]
        for (k, a), b in zip(full.state_dict().items(), loaded.state_dict().values()):
            assert torch.equal(a, b), (name, k)
