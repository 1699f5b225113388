"""The public encoder API (``sslkit.graphs.encoders``) and the methods' encoder options."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from sslkit.graphs import configs
from sslkit.graphs.encoders import (
    EncoderOptions,
    GNNEncoder,
    HypergraphEncoder,
    batch_graphs,
    build_encoder,
    pool_graphs,
)
from sslkit.graphs.plugin import plugin

# Each method's [method] options as `sslkit pretrain graphs --method M --help` listed them, in
# order, with the values a run resolves (dataclass defaults + the default preset), as captured
# before the encoder options moved into EncoderOptions, then core's method options (MethodOptions:
# matryoshka_dims) after each method's own. An option added, dropped, renamed, moved or given
# another default fails here.
OPTIONS = {
    "grace": {
        "encoder": "gcn", "hidden_dim": 128, "num_layers": 2, "activation": "relu",
        "proj_dim": 128, "tau": 0.4, "drop_edge_1": 0.2, "drop_edge_2": 0.4,
        "drop_feature_1": 0.3, "drop_feature_2": 0.4, "l2": 1e-05, "matryoshka_dims": [],
    },
    "dgi": {
        "encoder": "gcn", "hidden_dim": 512, "num_layers": 1, "activation": "prelu", "l2": 0.0,
        "matryoshka_dims": [],
    },
    "mvgrl": {
        "hidden_dim": 512, "alpha": 0.2, "sample_size": 2000, "subgraphs": 4, "ppr_topk": 0,
        "dense_limit": 5000, "l2": 0.0, "matryoshka_dims": [],
    },
    "bgrl": {
        "encoder": "gcn", "hidden_dims": [512, 256], "predictor_dim": 512, "drop_edge_1": 0.5,
        "drop_edge_2": 0.5, "drop_feature_1": 0.5, "drop_feature_2": 0.5, "base_momentum": 0.99,
        "batchnorm_momentum": 0.99, "l2": 0.0, "matryoshka_dims": [],
    },
    "graphmae": {
        "encoder": "gat", "hidden_dim": 512, "num_layers": 2, "num_heads": 4, "num_out_heads": 1,
        "activation": "prelu", "in_drop": 0.2, "attn_drop": 0.1, "mask_rate": 0.5,
        "replace_rate": 0.05, "alpha": 3.0, "drop_edge": 0.0, "l2": 0.0002,
        "matryoshka_dims": [],
    },
    "graphcl": {
        "encoder": "gin", "hidden_dim": 32, "num_layers": 3, "aug_1": "drop_nodes",
        "aug_2": "subgraph", "aug_ratio": 0.2, "tau": 0.2, "pooling": "sum",
        "matryoshka_dims": [],
    },
    "hypeboy": {
        "encoder": "unigcnii", "hidden_dim": 128, "num_layers": 2, "dropout": 0.5,
        "warmup_epochs": 300, "warmup_mask_rate": 0.5, "warmup_drop_hyperedge": 0.2,
        "mask_feature": 0.4, "drop_hyperedge": 0.9, "l2": 1e-06, "matryoshka_dims": [],
    },
    "tricl": {
        "encoder": "set", "hidden_dim": 512, "proj_dim": 512, "num_layers": 1,
        "drop_feature": 0.4, "drop_membership": 0.4, "tau_node": 0.5, "tau_group": 0.5,
        "tau_membership": 1.0, "weight_group": 4.0, "weight_membership": 1.0,
        "matryoshka_dims": [],
    },
}  # fmt: skip

# encoder fields that a config fixes or reads from its other options (ClassVar: not options)
NOT_OPTIONS = {
    "bgrl": {"hidden_dim": 256, "num_layers": 2},  # read from the per-layer hidden_dims
    "mvgrl": {"encoder": "gcn", "num_layers": 1},  # two fixed one-layer GCN views
}


def test_every_method_config_is_built_on_the_encoder_options():
    from sslkit.core.config import build_run_config
    from sslkit.core.config_help import field_order
    from sslkit.core.method_config import MethodOptions

    core = [f.name for f in dataclasses.fields(MethodOptions)]
    assert issubclass(EncoderOptions, MethodOptions)
    base = [f.name for f in dataclasses.fields(EncoderOptions) if f.name not in core]
    assert base == ["encoder", "hidden_dim", "num_layers"]
    assert set(plugin.methods) == set(OPTIONS)
    for name in plugin.methods:
        cls = plugin.method(name).config
        assert issubclass(cls, EncoderOptions), name
        names = [f.name for f in dataclasses.fields(cls) if f.name not in core]
        fixed = NOT_OPTIONS.get(name, {})
        assert names[: 3 - len(fixed)] == [b for b in base if b not in fixed], name  # base first
        assert field_order(cls)[-len(core) :] == core, name  # core's options last in --help
        cfg = build_run_config(plugin, name).model
        assert {k: getattr(cfg, k) for k in fixed} == fixed, name


def test_encoder_defaults_of_the_configs_are_the_papers():
    """The dataclass defaults (before any preset) each config gives the inherited fields."""
    expected = {
        configs.GRACEConfig: ("gcn", 128, 2),
        configs.DGIConfig: ("gcn", 512, 1),
        configs.GraphMAEConfig: ("gat", 512, 2),
        configs.GraphCLConfig: ("gin", 32, 3),
        configs.HypeBoyConfig: ("unigcnii", 128, 2),
        configs.TriCLConfig: ("set", 512, 1),
        configs.MVGRLConfig: ("gcn", 512, 1),
        configs.BGRLConfig: ("gcn", 256, 2),
    }
    for cls, values in expected.items():
        cfg = cls()
        assert (cfg.encoder, cfg.hidden_dim, cfg.num_layers) == values, cls.__name__


def _help_options(method: str, capsys) -> list[str]:
    from sslkit.cli.main import run

    code = run(["pretrain", "graphs", "--method", method, "--help"])
    text = capsys.readouterr().out
    assert code == 0, text
    opts = re.findall(r"^\s+(?:-\w, )?(--[\w-]+)", text, flags=re.M)
    return opts[opts.index("--name") + 1 : opts.index("--help")]  # the method's options


@pytest.mark.parametrize("method", list(OPTIONS))
def test_help_options_and_values_are_unchanged(method, capsys):
    from sslkit.core.config import build_run_config

    expected = OPTIONS[method]
    assert _help_options(method, capsys) == ["--" + k.replace("_", "-") for k in expected]
    resolved = build_run_config(plugin, method).to_dict()["method"]
    assert resolved == expected


# ---------------------------------------------------------------------------------------------
# build_encoder builds what each method built before it


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _gnn(kind, in_dim, dims, act, **kw):
    return GNNEncoder(kind, in_dim, dims, act, **kw)


def _gat_init(*encoders):
    """GraphMAE re-initialises its GAT layers after building both (in this order)."""
    from sslkit.graphs.encoders import gat_xavier_relu_init

    for e in encoders:
        gat_xavier_relu_init(e)
    return list(encoders)


@pytest.mark.parametrize("encoder", ["gcn", "gat"])
def test_build_encoder_matches_the_methods_former_encoders(encoder):
    """Each method's encoder (same seed) has the layers and weights of the explicit
    ``GNNEncoder(...)``/``HypergraphEncoder(...)`` call it made before build_encoder."""
    from sslkit.graphs.methods.bgrl import BGRL
    from sslkit.graphs.methods.dgi import DGI
    from sslkit.graphs.methods.grace import GRACE
    from sslkit.graphs.methods.graphcl import GraphCL
    from sslkit.graphs.methods.graphmae import GraphMAE

    d, heads = 12, 4 if encoder == "gat" else 1
    cases = [
        (
            GRACE,
            configs.GRACEConfig(encoder=encoder, hidden_dim=8, num_layers=2),
            lambda c: [_gnn(encoder, d, [16, 8], c.activation, heads=heads)],
        ),
        (
            DGI,
            configs.DGIConfig(encoder=encoder, hidden_dim=8, num_layers=2),
            lambda c: [_gnn(encoder, d, [8, 8], c.activation, heads=heads)],
        ),
        (
            BGRL,
            configs.BGRLConfig(encoder=encoder, hidden_dims=(16, 8)),
            lambda c: [
                _gnn(encoder, d, [16, 8], "prelu", heads=heads, norm="batch", norm_momentum=0.99)
            ],
        ),
        (
            GraphCL,
            configs.GraphCLConfig(encoder=encoder, hidden_dim=8, num_layers=3),
            lambda c: [
                _gnn(
                    encoder,
                    d,
                    [8] * 3,
                    "relu",
                    heads=heads,
                    norm="batch",
                    norm_after_activation=True,
                )
            ],
        ),
        (
            GraphMAE,
            configs.GraphMAEConfig(encoder=encoder, hidden_dim=8, num_heads=2, num_out_heads=1),
            lambda c: _gat_init(
                _gnn(
                    encoder,
                    d,
                    [8, 8],
                    c.activation,
                    heads=2 if encoder == "gat" else 1,
                    attn_drop=c.attn_drop,
                    in_drop=c.in_drop,
                ),
                _gnn(
                    encoder,
                    8,
                    [d],
                    c.activation,
                    heads=1,
                    attn_drop=c.attn_drop,
                    in_drop=c.in_drop,
                    last_activation=False,
                ),
            ),
        ),
    ]
    for cls, cfg, former in cases:
        torch.manual_seed(0)
        old = former(cfg)
        torch.manual_seed(0)
        method = cls(cfg, d)
        # the decoder is made per Matryoshka size: the full-width one is the last
        new = [method.encoder] + ([method.decoder[-1]] if hasattr(method, "decoder") else [])
        assert len(new) == len(old), cls.__name__
        for a, b in zip(new, old):
            assert repr(a) == repr(b), cls.__name__
            _same_weights(a, b)


def test_build_encoder_matches_the_hypergraph_methods_former_encoders():
    from sslkit.graphs.methods.hypeboy import HypeBoy
    from sslkit.graphs.methods.tricl import TriCL

    d = 12
    torch.manual_seed(0)
    cfg = configs.HypeBoyConfig(hidden_dim=8, dropout=0.3)
    old = [
        HypergraphEncoder("unigcnii", d, 8, 2, dropout=0.3, node_loops="isolated"),
        HypergraphEncoder("unigcnii", 8, d, 2, dropout=0.3, node_loops="isolated"),
    ]
    torch.manual_seed(0)
    method = HypeBoy(cfg, d)
    for a, b in zip([method.encoder, method.decoder[-1]], old):  # decoder: the full-width one
        assert (a.dropout, a.node_loops, a.out_dim) == (b.dropout, b.node_loops, b.out_dim)
        _same_weights(a, b)
    torch.manual_seed(0)
    old_tricl = HypergraphEncoder("set", d, 8, 1, act="prelu", node_loops="all")
    torch.manual_seed(0)
    tricl = TriCL(configs.TriCLConfig(hidden_dim=8, proj_dim=8), d)
    assert tricl.encoder.node_loops == "all" and repr(tricl.encoder) == repr(old_tricl)
    _same_weights(tricl.encoder, old_tricl)


def test_hypergraph_methods_share_one_embed():
    from sslkit.graphs.methods.base import HypergraphMethod
    from sslkit.graphs.methods.hypeboy import HypeBoy
    from sslkit.graphs.methods.tricl import TriCL

    assert HypeBoy.embed is HypergraphMethod.embed is TriCL.embed
    torch.manual_seed(0)
    method = TriCL(configs.TriCLConfig(hidden_dim=8, proj_dim=8), 6).eval()
    x = torch.randn(5, 6)
    hi = torch.tensor([[0, 1, 2, 2, 3, 4], [0, 0, 0, 1, 1, 1]])
    rows = method.embed({"x": x, "hyperedge_index": hi, "nodes": torch.tensor([1, 3])})
    full = method.encoder(x, hi, 2)
    assert torch.allclose(rows, full[[1, 3]])
    batch = torch.tensor([0, 0, 0, 1, 1])
    pooled = method.embed({"x": x, "hyperedge_index": hi, "batch": batch})
    assert torch.allclose(pooled, pool_graphs(full, batch, "mean"))


# ---------------------------------------------------------------------------------------------
# GIN with edge features, batching and readout


def _molecules(sizes=(4, 6), node_dim=5, edge_dim=3, seed=0) -> list[Data]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in sizes:
        ei = torch.randint(0, n, (2, 2 * n), generator=g)
        out.append(
            Data(
                x=torch.randn(n, node_dim, generator=g),
                edge_index=ei,
                edge_attr=torch.randn(ei.size(1), edge_dim, generator=g),
            )
        )
    return out


def test_gine_encoder_on_a_tiny_batch():
    graphs = _molecules()
    batch = batch_graphs(graphs)
    assert batch.num_graphs == 2 and batch.x.shape == (10, 5) and batch.edge_attr.shape == (20, 3)
    assert batch.batch.tolist() == [0] * 4 + [1] * 6
    torch.manual_seed(0)
    enc = GNNEncoder("gine", 5, [16] * 3, edge_dim=3, norm="batch", last_activation=False)
    h = enc(batch.x, batch.edge_index, batch.edge_attr)
    assert h.shape == (10, 16) and torch.isfinite(h).all()
    z = pool_graphs(h, batch.batch, "sum")
    assert z.shape == (2, 16)
    assert torch.allclose(z[0], h[:4].sum(0), atol=1e-5)
    # the edge features reach the output, and the gradient reaches their linear map
    h2 = enc(batch.x, batch.edge_index, batch.edge_attr + 1.0)
    assert not torch.allclose(h, h2)
    z.sum().backward()
    assert enc.convs[0].lin.weight.grad is not None
    assert enc.convs[0].lin.weight.grad.abs().sum() > 0
    # one graph embedded alone gives the rows it has in the batch (eval: fixed BatchNorm)
    enc.eval()
    g0 = graphs[0]
    alone = enc(g0.x, g0.edge_index, g0.edge_attr)
    together = enc(batch.x, batch.edge_index, batch.edge_attr)[:4]
    assert torch.allclose(alone, together, atol=1e-5)


def test_gine_needs_edge_dim_and_edge_features():
    with pytest.raises(ValueError, match="edge_dim"):
        GNNEncoder("gine", 5, [8])
    enc = GNNEncoder("gine", 5, [8], edge_dim=3)
    g = _molecules(sizes=(4,))[0]
    with pytest.raises(ValueError, match="edge_attr"):
        enc(g.x, g.edge_index)


def test_build_encoder_from_a_config_of_another_plugin():
    @dataclasses.dataclass
    class MoleculeConfig(EncoderOptions):
        encoder: str = "gine"
        hidden_dim: int = 16
        num_layers: int = 5
        edge_dim: int = 3
        activation: str = "prelu"

    enc = build_encoder(MoleculeConfig(), 5, norm="batch", last_activation=False)
    assert isinstance(enc, GNNEncoder) and enc.out_dim == 16 and len(enc.convs) == 5
    assert isinstance(enc.acts[0], torch.nn.PReLU) and isinstance(enc.acts[-1], torch.nn.Identity)
    assert isinstance(enc.norms[0], torch.nn.BatchNorm1d)
    batch = batch_graphs(_molecules())
    assert enc(batch.x, batch.edge_index, batch.edge_attr).shape == (10, 16)
    # overrides win over the config; a hypergraph kind builds a HypergraphEncoder
    assert build_encoder(MoleculeConfig(), 5, dims=[4, 2], kind="gin").out_dim == 2
    hyper = build_encoder(MoleculeConfig(encoder="set", num_layers=1), 5, node_loops="none")
    assert isinstance(hyper, HypergraphEncoder) and hyper.node_loops == "none"


def test_public_names():
    import sslkit.graphs.encoders as encoders

    for name in ("GNNEncoder", "EncoderOptions", "build_encoder", "batch_graphs", "pool_graphs"):
        assert name in encoders.__all__ and getattr(encoders, name).__doc__, name
    assert encoders.EncoderOptions is configs.EncoderOptions


def test_docs_example_runs():
    """The Python blocks of docs/graphs.md's "Public API" section run as written."""
    doc = Path(__file__).resolve().parents[3] / "docs" / "graphs.md"
    if not doc.is_file():
        pytest.skip("docs/ is not next to this test (installed elsewhere)")
    text = doc.read_text(encoding="utf-8")
    section = text.split("## Public API (for other plugins)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2
    scope: dict = {"__name__": "graphs_docs_example"}
    torch.manual_seed(0)
    # compiled without this module's ``from __future__ import annotations``, as a user runs it
    exec(compile(blocks[0], str(doc), "exec", dont_inherit=True), scope)
    assert scope["h"].shape == (13, 300) and scope["z"].shape == (2, 300)
    assert len(scope["encoder"].convs) == 5
    exec(compile(blocks[1], str(doc), "exec", dont_inherit=True), scope)
    assert scope["encoder"].out_dim == 300 and len(scope["encoder"].convs) == 5
