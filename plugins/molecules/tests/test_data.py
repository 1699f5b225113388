"""Reading a user's own file: SMILES column detection, labels with gaps, salts, invalid SMILES
(reported with row and string, skipped and counted; or ``strict``: exit code 2), bad input
with one clear line, the featurisation cache, .smi / Parquet / DataFrame input."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sslkit.core.errors import DataError
from sslkit.molecules.configs import MoleculeData
from sslkit.molecules.data import from_memory, load_data


def test_a_users_csv(user_csv, caplog):
    with caplog.at_level(logging.WARNING, logger="sslkit.molecules"):
        data = load_data(MoleculeData(path=str(user_csv), id_column="compound", split="random"))
    assert data.facts["smiles_column"] == "structure"  # found by content, not by name
    assert data.tasks == ["active", "toxic"] and data.task_kind() == "classification"
    assert data.facts["molecules"] == 5 and data.facts["invalid"] == 1
    warned = caplog.text
    assert "row 4" in warned and "'C1CC('" in warned and "column 'structure'" in warned
    assert "1 of 6 SMILES invalid and skipped" in warned
    assert data.ids.tolist() == ["a", "b", "c", "e", "f"]
    expected = np.array([[1, 0], [0, np.nan], [1, 1], [np.nan, 0], [1, 1]])
    np.testing.assert_array_equal(data.labels, expected)  # gaps stay NaN
    assert data.first_task(np.arange(5)).tolist() == [1, 0, 1, -1, 1]  # -1: no label
    # without standardisation the salt keeps both fragments (Na+ is an atom of the graph)
    assert data.graphs[2].num_nodes == 5


def test_standardise_keeps_the_largest_fragment_neutralised(user_csv):
    data = load_data(MoleculeData(path=str(user_csv), standardise=True, split="random"))
    assert data.smiles[2] == "CC(=O)O"  # [Na+].CC(=O)[O-] -> acetic acid
    assert data.graphs[2].num_nodes == 4


def test_strict_stops_at_the_invalid_smiles_with_its_row(user_csv):
    with pytest.raises(DataError) as err:
        load_data(MoleculeData(path=str(user_csv), strict=True))
    text = str(err.value)
    assert "row 4" in text and "'C1CC('" in text and "structure" in text


def test_strict_on_the_command_line_exits_2_with_one_line(user_csv, tmp_path):
    cmd = [sys.executable, "-m", "sslkit.cli", "pretrain", "molecules", "--data", str(user_csv),
           "--set", "data.strict=true", "--out", str(tmp_path / "runs"), "--quiet"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and "row 4" in lines[0] and "C1CC(" in lines[0], lines
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("content", "config", "says"),
    [
        ("", {}, "the file is empty"),
        ("name,weight\naspirin,180\n", {}, "no SMILES column found; the columns are: name, weight"),
        ("smiles,y\nCCO,1\n", {"labels": ("activity",)}, "no label column 'activity'"),
        ("smiles,y\nCCO,1\n", {"smiles": "mol"}, "no column 'mol'; the columns are: smiles, y"),
        ("smiles,y\nCCO,high\n", {}, "none"),
        ("smiles,y\nC1CC(,1\nxyz,0\n", {}, "none of the 2 SMILES"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, content, config, says):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    if says == "none":  # a non-numeric label in a named label column
        with pytest.raises(DataError, match="row 1, column 'y': label 'high' is not a number"):
            load_data(MoleculeData(path=str(path), labels=("y",)))
        return
    with pytest.raises(DataError, match=says.replace("(", r"\(")):
        load_data(MoleculeData(path=str(path), **config))


def test_the_cache_is_keyed_by_content_and_featuriser(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("smiles,y\nCCO,1\nc1ccccc1,0\nCCN,1\n")
    first = load_data(MoleculeData(path=str(path)))
    again = load_data(MoleculeData(path=str(path)))
    assert first.facts["featurisation"]["cache"] == "miss"
    assert again.facts["featurisation"]["cache"] == "hit"
    assert np.array_equal(first.featurised.x, again.featurised.x)
    assert again.smiles == first.smiles and again.featurised.scaffolds == first.featurised.scaffolds
    ogb = load_data(MoleculeData(path=str(path), featuriser="ogb"))
    assert ogb.facts["featurisation"]["cache"] == "miss" and ogb.featurised.x.shape[1] == 9
    path.write_text("smiles,y\nCCO,1\nc1ccccc1,0\nCCCN,1\n")  # new content: a new entry
    changed = load_data(MoleculeData(path=str(path)))
    assert changed.facts["featurisation"]["cache"] == "miss"


def test_smi_parquet_and_dataframe_inputs(tmp_path):
    smi = tmp_path / "lib.smi"
    smi.write_text("CCO ethanol\nc1ccccc1 benzene\nCCN\n")
    data = load_data(MoleculeData(path=str(smi)))
    assert data.facts["molecules"] == 3 and data.labels is None and data.task_kind() == "none"
    assert len(data.train_dataset()) == 3  # no labels to score: pretraining sees every molecule
    frame = pd.DataFrame({"SMILES": ["CCO", "CCN", "c1ccccc1"], "logS": [0.5, -1.2, -2.0]})
    frame.to_parquet(tmp_path / "m.parquet")
    data = load_data(MoleculeData(path=str(tmp_path / "m.parquet")))
    assert data.task_kind() == "regression" and data.facts["smiles_column"] == "SMILES"
    mem = from_memory(frame, MoleculeData())
    assert mem.facts["molecules"] == 3 and mem.facts["source"].startswith("<in-memory DataFrame")


def test_gzipped_tables_read_as_their_inner_format(tmp_path):
    """MoleculeNet ships HIV and MUV as .csv.gz: a gzipped CSV or .smi reads as the plain one;
    a .gz that is not gzip is one clear error naming the file."""
    import gzip

    text = "name,smiles,y\na,CCO,1\nb,c1ccccc1,0\nc,CCN,\n"
    (tmp_path / "m.csv").write_text(text)
    (tmp_path / "m.csv.gz").write_bytes(gzip.compress(text.encode()))
    plain = load_data(MoleculeData(path=str(tmp_path / "m.csv")))
    zipped = load_data(MoleculeData(path=str(tmp_path / "m.csv.gz")))
    assert zipped.smiles == plain.smiles == ["CCO", "c1ccccc1", "CCN"]
    assert np.array_equal(zipped.labels, plain.labels, equal_nan=True)
    (tmp_path / "lib.smi.gz").write_bytes(gzip.compress(b"CCO ethanol\nCCN\n"))
    assert load_data(MoleculeData(path=str(tmp_path / "lib.smi.gz"))).smiles == ["CCO", "CCN"]
    (tmp_path / "bad.csv.gz").write_text(text)  # not compressed
    with pytest.raises(DataError, match=r"bad\.csv\.gz.*not a readable gzip file"):
        load_data(MoleculeData(path=str(tmp_path / "bad.csv.gz")))


def test_embedded_sets_and_a_runs_state():
    bbbp = load_data(MoleculeData())
    assert bbbp.facts["molecules"] == 2039 and bbbp.tasks == ["p_np"]
    assert bbbp.facts["split_sizes"] == {"train": 1631, "val": 204, "test": 204}  # Hu et al.
    esol = load_data(MoleculeData(path="esol"), state={"featuriser": "ogb"})
    assert esol.task_kind() == "regression" and esol.info["featuriser"] == "ogb"


def test_the_embedded_default_pretrains_on_zinc_and_a_file_on_itself(user_csv, tmp_path):
    """data.pretrain_data=auto: the embedded BBBP pretrains on the embedded ZINC (max_rows
    applies to it too) and evaluates on BBBP; a user's file pretrains on its own molecules;
    another file can be named."""
    bbbp = load_data(MoleculeData(max_rows=150))
    assert bbbp.facts["pretrain_data"] == "<embedded zinc.smi.gz>"
    library = bbbp.train_dataset()
    assert len(library) == 150 and len(bbbp.split_index("train")) == 120
    first = library[0]  # ZINC's first line: CCN(Cc1ccc(OC)c(OC)c1)C(=O)c1ccsc1
    assert first.num_nodes == 21 and first.x[0].tolist() == [5, 0]  # carbon, no chirality
    own = load_data(MoleculeData(path=str(user_csv), split="random"))
    assert own.library is None and len(own.train_dataset()) == len(own.split_index("train"))
    smi = tmp_path / "lib.smi"
    smi.write_text("CCO\nc1ccccc1\n")
    named = load_data(MoleculeData(path=str(user_csv), split="random", pretrain_data=str(smi)))
    assert [g.num_nodes for g in named.train_dataset()] == [3, 6]


def test_the_cache_key_holds_the_featuriser_version(monkeypatch):
    from sslkit.molecules.data import featurise_many

    first = load_data(MoleculeData(max_rows=20))
    assert first.facts["featurisation"]["cache"] == "miss"
    assert load_data(MoleculeData(max_rows=20)).facts["featurisation"]["cache"] == "hit"
    monkeypatch.setattr(featurise_many, "VERSION", featurise_many.VERSION + 1)
    assert load_data(MoleculeData(max_rows=20)).facts["featurisation"]["cache"] == "miss"


def test_parallel_featurisation_equals_the_serial_one(monkeypatch):
    from sslkit.molecules.data import featurise_many

    serial = load_data(MoleculeData(max_rows=300, cache=False))
    monkeypatch.setattr(featurise_many, "PARALLEL_FROM", 10)
    monkeypatch.setattr(featurise_many, "CHUNK", 70)
    monkeypatch.setattr(featurise_many, "_workers", lambda n: 2)
    parallel = load_data(MoleculeData(max_rows=300, cache=False))
    a, b = serial.featurised, parallel.featurised
    assert (
        a.smiles == b.smiles and a.scaffolds == b.scaffolds and a.rows.tolist() == b.rows.tolist()
    )
    for k in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
