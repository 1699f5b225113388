"""The ``molecules`` plugin object (entry point ``molecules = "sslkit.molecules.plugin:plugin"``).

Light on purpose: no torch, no RDKit here; everything heavy is a ``"module:attr"``.
"""

from __future__ import annotations

from sslkit.core.plugin import (
    Baseline,
    DatasetSpec,
    MethodSpec,
    Plugin,
    Registry,
    TaskSpec,
    distribution_version,
)
from sslkit.molecules.configs import (
    AttrMaskConfig,
    ContextPredConfig,
    GraphMAEConfig,
    MLMConfig,
    MolCLRConfig,
    MoleculeData,
)

M = "sslkit.molecules.methods"

plugin = Plugin(
    name="molecules",
    version=distribution_version("sslkit-molecules"),
    summary="Molecules (SMILES via RDKit, PyG graphs, SELFIES): attribute masking, context "
    "prediction, GraphMAE, MolCLR, masked language modelling; "
    "scaffold-split property prediction",
    data_config=MoleculeData,
    load_data="sslkit.molecules.data:load_data",
    from_memory="sslkit.molecules.data:from_memory",  # api.pretrain("molecules", data=df)
    methods=Registry(
        "method",
        [
            MethodSpec(
                "attrmask",
                AttrMaskConfig,
                f"{M}.attrmask:build",
                summary="predict the type of masked atoms (15%) with a linear head on a GIN",
                paper="Hu et al., Strategies for Pre-training Graph Neural Networks, ICLR 2020",
            ),
            MethodSpec(
                "contextpred",
                ContextPredConfig,
                f"{M}.contextpred:build",
                summary="tell a centre atom's k-hop substructure from other molecules' context "
                "rings (CBOW over anchor atoms, shifted negatives), Hu et al.",
                paper="Hu et al., Strategies for Pre-training Graph Neural Networks, ICLR 2020",
            ),
            MethodSpec(
                "graphmae",
                GraphMAEConfig,
                f"{M}.graphmae:build",
                summary="reconstruct masked atoms' types through a re-masked GIN decoder "
                "(scaled cosine error), GraphMAE's chemistry variant",
                paper="Hou et al., GraphMAE: Self-Supervised Masked Graph Autoencoders, KDD 2022",
            ),
            MethodSpec(
                "molclr",
                MolCLRConfig,
                f"{M}.molclr:build",
                summary="NT-Xent between two views: atom masking, bond deletion, subgraph removal",
                paper="Wang et al., Molecular Contrastive Learning of Representations via Graph "
                "Neural Networks, Nature Machine Intelligence 2022",
            ),
            MethodSpec(
                "mlm",
                MLMConfig,
                f"{M}.mlm:build",
                summary="masked language modelling (RoBERTa: 15% of tokens, 80/10/10) with a "
                "small Transformer over SELFIES or SMILES tokens, SELFormer style",
                paper="Yüksel et al., SELFormer: molecular representation learning via SELFIES "
                "language models, Machine Learning: Science and Technology 2023",
            ),
        ],
    ),
    datasets=Registry(
        "data set",
        [
            DatasetSpec(
                "bbbp",
                summary="MoleculeNet BBBP, blood-brain barrier penetration (p_np); the "
                "embedded default",
                source="chemprop/chemprop @b83635bc : data/BBBP.csv",
                license="MIT",
                rows="2,039 molecules, 1 binary task",
            ),
            DatasetSpec(
                "esol",
                summary="MoleculeNet ESOL (delaney), measured log solubility (column logp)",
                source="chemprop/chemprop @b83635bc : data/delaney.csv",
                license="MIT",
                rows="1,128 molecules, 1 regression task",
            ),
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "property_prediction",
                "sslkit.molecules.tasks:property_prediction",
                summary="scaffold split: logistic probe ROC-AUC averaged over tasks (missing "
                "labels ignored), or ridge RMSE",
                probe="sslkit.molecules.tasks:MOLECULES_PROBE",
                baseline=Baseline(
                    "Morgan fingerprints (radius 2, 2048 bits)",
                    "sslkit.molecules.baselines:morgan",
                ),
            ),
            TaskSpec(
                "fine_tune",
                "sslkit.molecules.finetune:fine_tuning",
                summary="Hu et al.'s fine-tuning (GIN + linear head, 100 epochs, batch 32, "
                "dropout 0.5, test at the best val epoch) beside the same network untrained",
                on_request=True,
            ),
            TaskSpec(
                "similarity",
                "sslkit.molecules.similarity:similarity_task",
                summary="test molecules query the train molecules (FAISS, cosine): mean Tanimoto "
                "of the 10 embedding neighbours beside random and fingerprint neighbours",
                on_request=True,
            ),
        ],
    ),
    default_method="attrmask",
    default_task="property_prediction",
    presets="sslkit.molecules.presets",
)
