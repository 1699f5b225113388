"""Matryoshka applied by core (``method.matryoshka_dims``): the nested loss is the mean of the
objective over prefixes, heads per size, the sizes checked, a method that does not route its
loss through ``Method.nested`` refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslkit.core.engine.method import Method, NestedHeads
from sslkit.core.errors import UsageError
from sslkit.core.method_config import apply_nested, check_nested
from sslkit.core.objectives import InfoNCE


class Toy(Method):
    matryoshka = True

    def __init__(self, width: int = 8):
        super().__init__()
        self.embed_dim = width
        self.encoder = nn.Linear(5, width)
        self.heads = self.nested_heads(lambda m: nn.Linear(m, 4))
        self.loss = InfoNCE(0.5)

    def training_step(self, batch, step):
        z = self.encoder(batch)  # (batch, 2 views, width)
        return self.nested(z, lambda z_m, m: self.loss(self.heads.at(m)(z_m)))


def test_nested_loss_is_the_mean_of_the_objective_over_prefixes():
    torch.manual_seed(0)
    method = apply_nested(Toy(), (2, 4))
    assert method.nested_sizes == (2, 4, 8) and method.nested_dims == (2, 4, 8)
    assert [h.in_features for h in method.heads] == [2, 4, 8]
    batch = torch.randn(6, 2, 5)
    z = method.encoder(batch)
    by_hand = torch.stack(
        [method.loss(method.heads[i](z[..., :m])) for i, m in enumerate((2, 4, 8))]
    )
    torch.testing.assert_close(method.training_step(batch, 0), by_hand.mean(), rtol=0, atol=0)


def test_without_sizes_the_loss_is_the_objective_itself():
    torch.manual_seed(0)
    method = apply_nested(Toy(), ())
    assert method.nested_dims == () and len(method.heads) == 1
    batch = torch.randn(6, 2, 5)
    expected = method.loss(method.heads[0](method.encoder(batch)))
    assert torch.equal(method.training_step(batch, 0), expected)


def test_dict_terms_are_averaged_key_by_key():
    method = apply_nested(Toy(), (4,))
    z = torch.randn(3, 8)
    out = method.nested(z, lambda z_m, m: {"loss": z_m.sum(), "m": torch.tensor(float(m))})
    torch.testing.assert_close(out["loss"], (z[:, :4].sum() + z.sum()) / 2)
    assert out["m"].item() == 6.0


def test_the_full_head_is_kept_and_old_single_head_checkpoints_load():
    torch.manual_seed(0)
    plain = Toy()
    state = {k.replace("heads.0.", "heads."): v for k, v in plain.state_dict().items()}
    nested = apply_nested(Toy(), (4,))
    nested.load_state_dict(state, strict=False)
    torch.testing.assert_close(nested.heads.at(8).weight, plain.heads[0].weight)
    assert isinstance(nested.heads, NestedHeads)


class SequentialToy(Toy):
    def __init__(self, width: int = 8):
        super().__init__(width)
        self.heads = self.nested_heads(
            lambda m: nn.Sequential(nn.Linear(m, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 4))
        )


def _single_head_state(method: Method) -> dict:
    """``method``'s state dict as a checkpoint of before the heads were nested held it."""
    return {k.replace("heads.0.", "heads.", 1): v for k, v in method.state_dict().items()}


def test_old_single_head_checkpoints_of_a_sequential_head_load():
    torch.manual_seed(0)
    plain = SequentialToy()
    plain.heads[0][1].running_mean.add_(1.0)  # a buffer too
    state = _single_head_state(plain)
    assert "heads.0.weight" in state and "heads.3.bias" in state  # keys begin with a digit
    again = SequentialToy()
    again.load_state_dict(state)  # no sizes: every key found, none unexpected
    for k, v in plain.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v)
    nested = apply_nested(SequentialToy(), (4,))
    missing, unexpected = nested.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("heads.0.") for k in missing)  # the 4-wide head
    full = nested.heads.at(8)
    torch.testing.assert_close(full[0].weight, plain.heads[0][0].weight)
    torch.testing.assert_close(full[1].running_mean, plain.heads[0][1].running_mean)


def test_old_checkpoints_of_the_digits_reference_method_load():
    """Its projector, ``nn.Sequential(ReLU, Linear)``, was saved as ``projector.1.weight``."""
    from sslkit.testing.digits import DigitsSimCLR as Config
    from sslkit.testing.digits_impl import DigitsSimCLR

    torch.manual_seed(0)
    trained = DigitsSimCLR(Config(), 64)
    state = {k.replace("projector.0.", "projector.", 1): v for k, v in trained.state_dict().items()}
    assert "projector.1.weight" in state
    again = DigitsSimCLR(Config(), 64)
    again.load_state_dict(state)
    torch.testing.assert_close(again.projector.at(32)[1].weight, trained.projector.at(32)[1].weight)
    nested = apply_nested(DigitsSimCLR(Config(), 64), (8,))
    missing, unexpected = nested.load_state_dict(state, strict=False)
    assert not unexpected and missing == ["projector.0.1.weight", "projector.0.1.bias"]
    torch.testing.assert_close(nested.projector.at(32)[1].bias, trained.projector.at(32)[1].bias)


@pytest.mark.parametrize("dims", [(), (4,), (2, 4)], ids=["none", "one", "two"])
def test_nested_checkpoints_of_a_sequential_head_load_as_they_are(dims):
    torch.manual_seed(0)
    trained = apply_nested(SequentialToy(), dims)
    for head in trained.heads:
        head[0].weight.data.normal_()
    again = apply_nested(SequentialToy(), dims)
    again.load_state_dict(trained.state_dict())
    for k, v in trained.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v)


@pytest.mark.parametrize(
    "dims, shown", [((0, 4), "0"), ((4, 9), "9"), ((2.5,), "2.5")], ids=["zero", "wide", "float"]
)
def test_an_invalid_size_is_one_usage_error_naming_the_key(dims, shown):
    with pytest.raises(UsageError) as err:
        apply_nested(Toy(), dims)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("method.matryoshka_dims = ") and "between 1 and 8" in text
    assert shown in text


def test_sizes_are_sorted_deduplicated_and_include_the_full_width():
    assert check_nested((8, 2, 2), 8) == (2, 8)
    assert check_nested((4,), 8) == (4, 8)
    assert check_nested((), 8) == ()


def test_a_method_that_does_not_route_its_loss_is_refused():
    class Plain(Toy):
        matryoshka = False

    class Senseless(Toy):
        matryoshka = "its embedding is a set of cluster probabilities"

    with pytest.raises(UsageError, match="does not go through Method.nested"):
        apply_nested(Plain(), (4,), name="plain")
    with pytest.raises(UsageError, match="cluster probabilities"):
        apply_nested(Senseless(), (4,), name="senseless")
    apply_nested(Plain(), ())  # no sizes: nothing to refuse


def test_a_tensor_of_another_width_is_an_error():
    method = apply_nested(Toy(), (4,))
    with pytest.raises(ValueError, match="nested width 8"):
        method.nested(torch.randn(3, 5), lambda z, m: z.sum())
