"""The ``mlm`` method: SMILES and SELFIES tokens worked by hand, the vocabulary, RoBERTa's
80/10/10 masking, the loss against a hand-written cross-entropy, and the token inputs of a
run reused by evaluate (probe, fine-tuning) through the saved vocabulary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslkit.molecules.data.tokens import (
    SPECIALS,
    Tokeniser,
    selfies_tokens,
    smiles_tokens,
)

SMILES_CASES = {
    # bromine one token, aromatic atoms, ring digits, a chiral bracket atom, branches, bonds
    "Brc1ccccc1[C@@H](N)C(=O)O": [
        "Br", "c", "1", "c", "c", "c", "c", "c", "1", "[C@@H]", "(", "N", ")",
        "C", "(", "=", "O", ")", "O",
    ],
    "C%10CCCCC%10": ["C", "%10", "C", "C", "C", "C", "C", "%10"],  # a two-digit ring closure
    "[NH3+]CC(=O)[O-]": ["[NH3+]", "C", "C", "(", "=", "O", ")", "[O-]"],  # charged atoms
    "ClC(Cl)Cl": ["Cl", "C", "(", "Cl", ")", "Cl"],
    "F/C=C\\F.C#N": ["F", "/", "C", "=", "C", "\\", "F", ".", "C", "#", "N"],
}  # fmt: skip


@pytest.mark.parametrize("smiles", list(SMILES_CASES))
def test_smiles_tokens_by_hand_and_they_join_back(smiles):
    tokens = smiles_tokens(smiles)
    assert tokens == SMILES_CASES[smiles]
    assert "".join(tokens) == smiles


def test_selfies_tokens_by_hand_and_they_decode_to_the_same_molecule():
    import selfies as sf
    from rdkit import Chem

    assert selfies_tokens("Brc1ccccc1[C@@H](N)C(=O)O") == [
        "[Br]", "[C]", "[=C]", "[C]", "[=C]", "[C]", "[=C]", "[Ring1]", "[=Branch1]",
        "[C@@H1]", "[Branch1]", "[C]", "[N]", "[C]", "[=Branch1]", "[C]", "[=O]", "[O]",
    ]  # fmt: skip
    for smiles in ["Brc1ccccc1[C@@H](N)C(=O)O", "C%10CCCCC%10", "[NH3+]CC(=O)[O-]",
                   "F/C=C/F", "CC(=O)Nc1ccc(O)cc1", "C[S](=O)(=O)c1ccccc1"]:  # fmt: skip
        decoded = sf.decoder("".join(selfies_tokens(smiles)))
        assert Chem.CanonSmiles(decoded) == Chem.CanonSmiles(smiles), smiles
    assert selfies_tokens("c1ccccc1*") is None  # the selfies package has no dummy atom


def test_vocabulary_is_fitted_most_frequent_first_and_encodes_with_specials():
    tok = Tokeniser.fit(["CCO", "CC", "N"], "smiles", max_length=4)
    assert tok.vocab == [*SPECIALS, "C", "N", "O"]  # C 4 times; N and O once: string order
    ids, counts = tok.encode(["CCO", "CCCC", "S"])
    c, n_, o = 5, 6, 7
    cls, eos, unk = tok.cls_id, tok.eos_id, tok.unk_id
    assert ids[0].tolist() == [cls, c, c, eos]  # CCO: 3 tokens > 2 allowed: truncated
    assert ids[1].tolist() == [cls, c, c, eos]
    assert ids[2].tolist() == [cls, unk, eos]  # S was never seen
    assert counts == {"truncated": 2, "unencodable": 0, "unknown_tokens": 1}
    assert Tokeniser.from_state(tok.state()).vocab == tok.vocab
    assert (n_, o) == (tok.index["N"], tok.index["O"])


def test_masking_is_robertas_15_percent_then_80_10_10():
    from sslkit.molecules.augment import MaskTokens

    vocab, n = 40, 20000
    ids = np.concatenate([[2], np.random.default_rng(0).integers(5, vocab, n), [3]])
    out = MaskTokens(0.15, 0.8, 0.1, mask_id=4, specials=5, vocab_size=vocab)(
        ids, torch.Generator().manual_seed(0)
    )
    chosen = out["labels"] != -100
    assert not chosen[0] and not chosen[-1]  # [cls] and [eos] are never chosen
    assert torch.equal(out["labels"][chosen], torch.as_tensor(ids)[chosen])
    assert abs(chosen.float().mean().item() - 0.15) < 0.01
    t = out["tokens"][chosen]
    masked = (t == 4).float().mean().item()
    kept = (t == torch.as_tensor(ids)[chosen]).float().mean().item()
    assert abs(masked - 0.8) < 0.02
    # kept: the 10% left alone, plus random tokens that drew their own id (1 in 35)
    assert abs(kept - (0.1 + 0.1 / 35)) < 0.015
    assert ((t >= 5) | (t == 4)).all()  # a random token is never a special one
    assert torch.equal(out["tokens"][~chosen], torch.as_tensor(ids)[~chosen])


def _tiny(overrides=()):
    from sslkit.core import api

    cfg = api.resolve_config(
        "molecules",
        "mlm",
        overrides=[
            "data.max_rows=120",
            "method.hidden_dim=16",
            "method.num_layers=1",
            "method.ff_dim=32",
            *overrides,
        ],
    )
    return api.initial_method(cfg)


def test_mlm_loss_is_the_cross_entropy_over_the_chosen_tokens():
    import torch.nn.functional as F

    data, method = _tiny(["method.tokens=smiles"])
    assert data.tokeniser.kind == "smiles"
    transform = method.train_transform()
    rng = torch.Generator().manual_seed(0)
    items = [transform(x, rng) for x in data.train_dataset()[:8]]
    batch = data.collate(items)
    method.eval()  # no dropout: the two passes see the same network
    loss = method.training_step(batch, 0)["loss"]

    h, _ = method.encoder.tokens({"tokens": batch["tokens"]})
    head = method.head
    x = F.layer_norm(
        F.gelu(h @ head.dense.weight.T + head.dense.bias), (h.shape[-1],),
        head.norm.weight, head.norm.bias, head.norm.eps,
    )  # fmt: skip
    logits = x @ method.encoder.embed.weight.T + head.bias  # tied to the token embeddings
    labels = batch["labels"]
    log_p = torch.log_softmax(logits, -1)
    picked = [-log_p[b, t, labels[b, t]] for b, t in zip(*torch.nonzero(labels != -100).T)]
    assert len(picked) > 10
    assert torch.allclose(loss, torch.stack(picked).mean(), atol=1e-5)


def test_the_run_state_keeps_the_vocabulary_and_evaluation_reads_tokens():
    from sslkit.molecules.configs import MoleculeData
    from sslkit.molecules.data import load_data
    from sslkit.molecules.finetune import FineTuneOptions, fine_tune

    data, method = _tiny()
    state = data.state()
    assert state["tokens"]["kind"] == "selfies" and state["tokens"]["vocab"][:5] == list(SPECIALS)
    again = load_data(MoleculeData(max_rows=120), state=state)
    assert again.tokeniser.vocab == data.tokeniser.vocab
    a = next(iter(data.eval_batches("train", 16))).inputs["tokens"]
    b = next(iter(again.eval_batches("train", 16))).inputs["tokens"]
    assert torch.equal(a, b) and a[:, 0].eq(data.tokeniser.cls_id).all()
    method.eval()
    with torch.no_grad():
        z = method.embed({"tokens": a})
    assert z.shape == (16, 16) and torch.isfinite(z).all()
    # Hu et al.'s fine-tuning runs on the token encoder (one epoch, random split)
    out = fine_tune(method.embedder(), again, FineTuneOptions(epochs=1, batch_size=32))
    assert out["metric"] == "roc_auc" and len(out["history"]) == 1
    assert out["lr"] == 1e-4  # the Transformer's rate, not the GIN's 1e-3 (it collapsed there)


def test_heads_that_do_not_divide_the_width_stop_with_one_line():
    from sslkit.core.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"method.hidden_dim=16 must be a multiple of method.heads=3"
    ):
        _tiny(["method.heads=3"])
