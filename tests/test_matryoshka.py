"""Matryoshka applied by core to the methods of every plugin (``method.matryoshka_dims``): a
short run on the plugin's small sample trains, records ``nested_dims``, and an export at a
nested size is the first coordinates of the full export; a method that cannot train sizes, or
an invalid size, is one clear error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

SMALL = {
    "tabular": ["data.max_rows=300", "train.batch_size=64"],
    "graphs": [],
    "events": ["data.path=age-group", "method.hidden=32", "train.batch_size=16"],
}
# (domain, method, a nested size, extra options)
CASES = [
    ("tabular", "tjepa", 4, ["method.d_token=8", "method.n_heads=2", "method.n_layers=1"]),
    ("tabular", "scarf", 8, ["method.out_dim=16", "method.hidden_dim=32"]),
    ("tabular", "vime", 8, ["method.out_dim=16", "method.hidden_dim=32"]),
    ("graphs", "dgi", 8, ["method.hidden_dim=16"]),
    ("graphs", "grace", 8, ["method.hidden_dim=16"]),
    ("graphs", "bgrl", 8, ["method.hidden_dims=[16]"]),
    ("events", "coles", 8, []),
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


def test_a_method_that_cannot_train_sizes_is_refused(tmp_path):
    from sslkit.core.errors import UsageError

    with pytest.raises(UsageError) as err:
        _pretrain(tmp_path, "events", "cpc", ["method.matryoshka_dims=[8]"])
    text = str(err.value)
    assert "\n" not in text and "method.matryoshka_dims" in text and "'cpc'" in text


def test_an_invalid_size_is_one_line(tmp_path):
    from sslkit.core.errors import UsageError

    with pytest.raises(UsageError, match=r"method.matryoshka_dims = \[999\]: each size"):
        _pretrain(
            tmp_path, "graphs", "grace", ["method.hidden_dim=16", "method.matryoshka_dims=[999]"]
        )
