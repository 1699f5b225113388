"""A larger pretraining library for the molecules benchmark: the embedded ZINC plus the
unlabelled SMILES of other MoleculeNet sets, without any BBBP or ESOL molecule.

The papers pretrain on ZINC-2M (Hu et al. 2020, GraphMAE) or PubChem-10M (MolCLR); this machine
holds 29,445 ZINC molecules. chemprop's repository (MIT, the commit ``../shared/data`` took
BBBP and ESOL from) also holds HIV (41,127), MUV (93,087), Tox21, ToxCast, SIDER, ClinTox, BACE
and Lipophilicity. Their labels are dropped; only the structures are pretrained on.

No downstream molecule reaches pretraining: a molecule whose canonical SMILES *without
stereochemistry* equals one of BBBP's or ESOL's (any split) is left out, so a stereoisomer of a
test molecule is left out too (Hu et al.'s atom features differ between the two only in the
chirality tag). Duplicates across the sets are kept once (by canonical isomeric SMILES).

    git -C MIRROR show b83635bc:data/HIV.csv.gz > HIV.csv.gz   # ... and the other sets
    uv run python benchmarks/molecule_library.py HIV.csv.gz muv.csv.gz ... --out library.smi

The output is a ``.smi`` file (``SMILES source:row``), what ``data.pretrain_data`` reads.
"""

from __future__ import annotations

import argparse
import io
import json
from collections import Counter
from pathlib import Path


def canonical(smiles: str) -> tuple[str, str] | None:
    """(canonical isomeric SMILES, canonical SMILES without stereochemistry), or None for a
    SMILES the plugin's reader rejects (:func:`sslkit.molecules.data.parse.parse_one`)."""
    from rdkit import Chem

    from sslkit.molecules.data.parse import parse_one

    mol, _ = parse_one(smiles)
    if mol is None:
        return None
    return Chem.MolToSmiles(mol), Chem.MolToSmiles(mol, isomericSmiles=False)


def smiles_of(source: str) -> list[str]:
    """The SMILES column (the plugin's own reader and detection) of an embedded set's name or
    of a file (``.csv``, ``.csv.gz``, ...)."""
    from sslkit.molecules.data.reading import read_table, smiles_column

    table = read_table(source)
    return table.frame[smiles_column(table.frame, "", table.source)].tolist()


def build(files: list[Path], out: Path, base: tuple[str, ...] = ("zinc",)) -> dict[str, object]:
    """Write the library to ``out``: the embedded sets ``base``, then ``files``, in order;
    returns the counts per source (kept, invalid, duplicate, bbbp_or_esol)."""
    from sslkit.molecules.data.parse import quiet_rdkit

    seen: set[str] = set()
    counts: dict[str, Counter] = {}
    lines = io.StringIO()
    with quiet_rdkit():
        held_out = {
            p[1] for name in ("bbbp", "esol") for s in smiles_of(name) if (p := canonical(s))
        }
        sources = [(name, name) for name in base] + [(f.name, str(f)) for f in files]
        for source, where in sources:
            count = counts.setdefault(source, Counter())
            for row, s in enumerate(smiles_of(where)):
                pair = canonical(s)
                if pair is None:
                    count["invalid"] += 1
                elif pair[1] in held_out:
                    count["bbbp_or_esol"] += 1
                elif pair[0] in seen:
                    count["duplicate"] += 1
                else:
                    seen.add(pair[0])
                    count["kept"] += 1
                    lines.write(f"{pair[0]} {source}:{row}\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(lines.getvalue())
    return {"molecules": len(seen), "held_out_smiles": len(held_out), "sources": counts}


def main() -> None:
    from sslkit.core.quiet import quiet

    quiet()  # torch_geometric's import-time FutureWarning, as the CLI hides it
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="CSV files with a SMILES column")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(build(args.files, args.out), indent=1, default=dict))


if __name__ == "__main__":
    main()
