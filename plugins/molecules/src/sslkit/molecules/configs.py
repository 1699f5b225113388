"""Config dataclasses of the molecules plugin: ``[data]``, the encoder options and one
``[method]`` class per method.

Plain dataclasses, no torch and no RDKit: ``sslkit plugins`` and ``--help`` read them without
importing a heavy library. The attribute docstring under a field is its ``--help`` text.
Defaults are the papers' settings (Hu et al. 2020 for the encoder and attribute masking, Wang
et al. 2022 for MolCLR); the shipped ``presets/<method>/default.toml`` sets the ``[train]``
budget of the embedded default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from sslkit.core.method_config import MethodOptions

Featuriser = Literal["hu", "ogb"]
Split = Literal["scaffold", "random", "random_scaffold"]


@dataclass
class MoleculeData:
    """``[data]``: where the molecules come from, how they are parsed, featurised and split."""

    path: str = ""
    """A CSV, TSV, Parquet or .smi file of SMILES (and optional label columns), an embedded
    data set (bbbp, esol), or "" for the embedded BBBP."""
    smiles: str = ""
    """The SMILES column; "" detects it (a column named smiles, or the column whose first
    values RDKit parses)."""
    labels: tuple[str, ...] = ()
    """Label columns (several for multi-task data; empty cells are missing labels). Empty:
    every column but the SMILES and id columns (an embedded data set: its own label)."""
    id_column: str = ""
    """A column that names the molecules in exports; "" uses the row number."""
    task: Literal["auto", "classification", "regression"] = "auto"
    """What the labels are: auto takes classification when every label is 0 or 1."""
    featuriser: Featuriser = "hu"
    """Atom and bond features: hu (atom type and chirality; bond type and direction, as Hu et
    al. 2020) or ogb (OGB's 9 atom and 3 bond features)."""
    standardise: bool = False
    """Keep the largest fragment (drop salts and solvents) and neutralise charges before
    featurising (RDKit's MolStandardize)."""
    strict: bool = False
    """Stop at the first invalid SMILES (exit code 2) instead of skipping it."""
    split: Split = "scaffold"
    """scaffold: the deterministic Bemis-Murcko split of Hu et al. (largest scaffold groups
    first, 80/10/10); random: shuffled molecules; random_scaffold: shuffled scaffold groups."""
    split_seed: int = 0
    """Seed of the random and random_scaffold splits (the scaffold split has none)."""
    pretrain_data: str = "auto"
    """Molecules pretraining sees: auto (the embedded ZINC for an embedded data set, the data
    itself for a file), zinc (29,445 unlabelled ZINC SMILES, as Hu et al. pretrain on ZINC),
    self (the data's own molecules, see pretrain_on), or a SMILES file (.smi, CSV, ...; its
    labels unused). The data's splits and labels are for evaluation only."""
    pretrain_on: Literal["train", "all"] = "train"
    """With pretrain_data=self: pretraining sees the train split only (no structure of a test
    molecule; data without labels: all of them), or all of them (labels are never used)."""
    max_rows: int = 0
    """Read at most this many rows (0: all), of the data and of the pretraining library."""
    cache: bool = True
    """Keep the featurised molecules in the sslkit cache ($SSLKIT_CACHE or ~/.cache/sslkit),
    keyed by the file's content and the featuriser, so a second run starts at once."""


@dataclass
class EncoderOptions(MethodOptions):
    """The GIN of Hu et al. 2020 with edge features: ``num_layers`` layers of width
    ``hidden_dim``, mean pooling. The first options of every method's config, each built on
    it; ``sslkit.molecules.encoders.build_encoder`` reads them."""

    hidden_dim: int = 300
    """Width of the atom embeddings and of every layer (the graph embedding's size)."""
    num_layers: int = 5
    dropout: float = 0.0
    """Dropout after every layer during pretraining (Hu et al.: 0)."""
    jk: Literal["last", "concat"] = "last"
    """Node representation: the last layer (Hu et al.), or every layer's output concatenated."""
    pooling: Literal["mean", "sum", "max"] = "mean"
    """Readout of the graph embedding from the atoms."""


@dataclass
class AttrMaskConfig(EncoderOptions):
    """Attribute masking (Hu et al. 2020, "Strategies for Pre-training Graph Neural
    Networks"): predict the type of masked atoms with a linear head."""

    mask_rate: float = 0.15
    """Fraction of each molecule's atoms masked (int(n * rate + 1) atoms, at least one)."""


@dataclass
class MolCLRConfig(EncoderOptions):
    """MolCLR (Wang et al. 2022, "Molecular Contrastive Learning of Representations via Graph
    Neural Networks"): NT-Xent between two augmented molecular graphs."""

    augment: Literal["mix", "node", "subgraph"] = "mix"
    """mix: subgraph removal (up to max_subgraph of the atoms) topped up with atom masking and
    bond deletion to mask_rate (the paper's best); node: atom masking and bond deletion only;
    subgraph: subgraph removal of mask_rate of the atoms only."""
    mask_rate: float = 0.25
    """Fraction of the atoms masked and of the bonds deleted in a view."""
    max_subgraph: float = 0.2
    """mix: the removed subgraph's fraction of the atoms is uniform in [0, max_subgraph]."""
    feat_dim: int = 512
    """Width of MolCLR's feature layer after pooling (the fine-tuned representation)."""
    temperature: float = 0.1
    embed: Literal["pooled", "feature"] = "pooled"
    """What is exported: the pooled GIN output (hidden_dim wide, as for every method here), or
    MolCLR's feature layer (feat_dim wide, what MolCLR fine-tunes)."""


@dataclass
class GraphMAEConfig(EncoderOptions):
    """GraphMAE (Hou et al. 2022, "GraphMAE: Self-Supervised Masked Graph Autoencoders"), its
    chemistry variant: masked atoms re-masked before a one-layer GIN decoder that reconstructs
    their atom type, scaled cosine error."""

    mask_rate: float = 0.25
    """Fraction of each molecule's atoms masked (int(n * rate + 1) atoms; GraphMAE chem: 0.25)."""
    alpha: float = 1.0
    """Exponent of the scaled cosine error (GraphMAE chem: alpha_l = 1)."""


@dataclass
class MLMConfig(EncoderOptions):
    """Masked language modelling over SMILES or SELFIES tokens with a small RoBERTa (Liu et al.
    2019, "RoBERTa"; SELFormer, Yüksel et al. 2023, over SELFIES): 15% of the tokens chosen,
    80% of them replaced by [mask], 10% by a random token, 10% kept; cross-entropy on them."""

    tokens: Literal["selfies", "smiles"] = "selfies"
    """What the molecules are written as: SELFIES (SELFormer) or SMILES (Schwaller et al.'s
    atom-level tokens), from each molecule's canonical SMILES."""
    max_length: int = 128
    """Most tokens a molecule keeps, [cls] and [eos] included (longer ones are truncated and
    counted)."""
    hidden_dim: int = 256
    """Width of the token states and of the molecule embedding (their mean)."""
    num_layers: int = 4
    heads: int = 4
    """Attention heads of every layer (hidden_dim must be a multiple)."""
    ff_dim: int = 1024
    """Width of each layer's feed-forward block."""
    dropout: float = 0.1
    """Dropout of the embeddings, attention and feed-forward blocks (RoBERTa: 0.1)."""
    mask_rate: float = 0.15
    """Fraction of each molecule's tokens chosen for prediction (RoBERTa: 0.15)."""
    replace_mask: float = 0.8
    """Of the chosen tokens, the fraction replaced by [mask] (RoBERTa: 0.8)."""
    replace_random: float = 0.1
    """Of the chosen tokens, the fraction replaced by a random token (RoBERTa: 0.1; the rest
    are kept)."""
    jk: ClassVar[str] = "last"
    pooling: ClassVar[str] = "mean"
    """Fixed, not options: the embedding is the mean of the last layer's token states."""


@dataclass
class ContextPredConfig(EncoderOptions):
    """Context prediction (Hu et al. 2020, "Strategies for Pre-training Graph Neural
    Networks"), CBOW: the GIN's representation of a centre atom from its k-hop substructure
    (k = num_layers) against the mean of a second GIN's representations of the context
    anchor atoms (between num_layers - 1 and num_layers - 1 + csize bonds away); negatives are
    other molecules' contexts in the batch."""

    csize: int = 3
    """Width of the context ring in bonds (Hu et al.: 3, so r1 = 4 and r2 = 7 with 5 layers);
    also the context GIN's number of layers."""
    neg_samples: int = 1
    """Negative contexts per substructure (the batch's contexts shifted by 1, 2, ...)."""
    context_pooling: Literal["mean", "sum", "max"] = "mean"
    """How the context anchor atoms' representations are pooled (CBOW; Hu et al.: mean)."""
