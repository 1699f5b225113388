"""Methods and views: the MONAI views are seeded by the engine's generator, monai-ssl's loss is
the tutorial's formula written out, MAE's patches are the ViT's tokens, and the encoders give
embeddings of the declared width in 2-D and 3-D."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

from sslkit.medical.augment import ContrastViews, PatchNoise, RestorationViews
from sslkit.medical.configs import MAEConfig, MonaiSSLConfig, SimCLRConfig

INFO = {"spatial_dims": 3, "in_channels": 1, "size": [16, 16, 16]}


def _volume(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((1, 16, 16, 16), generator=g)


@pytest.mark.parametrize(
    "views",
    [
        ContrastViews((16, 16, 16), 0.6, 15.0, 0.1, 0.02),
        RestorationViews((16, 16, 16), 6, 0.16, 10, 0.08),
    ],
)
def test_views_follow_the_generator_and_survive_pickling(views):
    x = _volume()
    a = views((x,), torch.Generator().manual_seed(1))[0]
    b = pickle.loads(pickle.dumps(views))((x,), torch.Generator().manual_seed(1))[0]
    c = views((x,), torch.Generator().manual_seed(2))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[-1], a[-2])  # the two views of one image differ
    assert type(a) is torch.Tensor  # no MONAI MetaTensor into the batch


def test_restoration_views_keep_the_image_and_corrupt_both_views():
    x = _volume()
    out = RestorationViews((16, 16, 16), 6, 0.16, 10, 0.08)((x.clone(),), torch.Generator())[0]
    assert torch.equal(out[0], x)  # the reconstruction target is the untouched image
    for view in out[1:]:
        assert (view != x).float().mean() > 0.02


def test_monai_ssl_loss_is_l1_plus_contrastive_times_l1():
    from sslkit.medical.methods.monai_ssl import MonaiSSL

    torch.manual_seed(0)
    m = MonaiSSL(MonaiSSLConfig(width=32, depth=1, patch=4, deconv_chns=4, temperature=0.5), INFO)
    views = torch.stack([_volume(i) for i in range(9)]).reshape(3, 3, 1, 16, 16, 16)
    logs = m.training_step((views,), 0)
    with torch.no_grad():
        r1 = m.reconstruct(views[:, 1])
        r2 = m.reconstruct(views[:, 2])
    l1 = (r1 - views[:, 0]).abs().mean()
    # NT-Xent over the 2N flattened reconstructions (MONAI's ContrastiveLoss), written out
    z = torch.nn.functional.normalize(torch.cat([r1.flatten(1), r2.flatten(1)]), dim=1)
    sim = z @ z.T / 0.5
    n = r1.shape[0]
    sim.fill_diagonal_(-math.inf)
    pos = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    nce = (torch.logsumexp(sim, dim=1) - sim[torch.arange(2 * n), pos]).mean()
    torch.testing.assert_close(logs["l1"], l1, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logs["contrastive"], nce, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logs["loss"].detach(), l1 + nce * l1, rtol=1e-5, atol=1e-6)


def test_mae_patches_are_the_vit_tokens_in_order():
    from sslkit.medical.methods.mae import MAE, patchify

    m = MAE(MAEConfig(width=64, depth=1, patch=4, decoder_width=16, decoder_depth=1), INFO)
    pe = m.encoder.net.patch_embedding
    conv = pe.patch_embeddings  # Conv3d(1, 64, kernel 4, stride 4): one output per patch voxel
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        for k in range(64):
            conv.weight[k].view(-1)[k] = 1.0
        pe.position_embeddings.zero_()
    x = torch.rand(2, 1, 16, 16, 16)
    torch.testing.assert_close(pe(x), patchify(x, 4))
    noise = PatchNoise(m.patches)((x[0],), torch.Generator())[1]
    assert noise.shape == (64,)
    keep = noise.argsort()[None, :16]
    assert m.encode_visible(x[:1], keep).shape == (1, 16, 64)  # 25% of the 64 patches
    assert float(m.training_step((x, torch.rand(2, 64)), 0)["loss"].detach()) > 0


@pytest.mark.parametrize(
    "arch,dims,size,width",
    [("resnet10", 2, [32, 32], 4), ("resnet50", 3, [16, 16, 16], 2), ("vit", 2, [16, 16], 32),
     ("swin", 3, [32, 32, 32], 6), ("unet", 2, [32, 32], 4)],
)  # fmt: skip
def test_encoders_embed_to_their_declared_width(arch, dims, size, width):
    from sslkit.medical.encoders import build_encoder

    cfg = SimCLRConfig(arch=arch, width=width, depth=1, patch=4)
    enc = build_encoder(cfg, {"spatial_dims": dims, "in_channels": 2, "size": size})
    assert enc(torch.rand(3, 2, *size)).shape == (3, enc.out_dim)


def test_a_vit_patch_that_does_not_divide_the_image_is_a_config_error():
    from sslkit.core.errors import ConfigError
    from sslkit.medical.encoders import build_encoder

    with pytest.raises(ConfigError, match="method.patch = 16 does not divide"):
        build_encoder(SimCLRConfig(arch="vit", patch=16), {**INFO, "size": [28, 28, 28]})


def test_local_loss_is_nt_xent_within_each_image_written_out():
    from sslkit.medical.methods.global_local import local_nt_xent

    z = torch.randn(2, 2, 3, 5)  # 2 images, 2 views, 3 regions, dim 5
    t = 0.3
    total, count = 0.0, 0
    for img in range(2):
        rows = [
            torch.nn.functional.normalize(z[img, v, r], dim=0) for v in (0, 1) for r in range(3)
        ]
        for i, a in enumerate(rows):
            pos = (i + 3) % 6  # the same region of the other view
            logits = [float(a @ rows[j]) / t for j in range(6) if j != i]
            total += -(float(a @ rows[pos]) / t) + math.log(sum(math.exp(v) for v in logits))
            count += 1
    torch.testing.assert_close(
        local_nt_xent(z, t), torch.tensor(total / count), rtol=1e-5, atol=1e-5
    )


def test_partition_views_cut_inside_their_partition():
    from sslkit.medical.augment import PartitionViews

    x = torch.arange(32, dtype=torch.float32).expand(1, 32, 32, 32).clone()  # value = last index
    views = PartitionViews((32, 32, 32), partitions=4, crop=0.5, intensity=0.0)
    for seed in range(6):
        (v, part) = views((x,), torch.Generator().manual_seed(seed))
        centre = float(v[0, 0, 16, 16, 15:17].mean())  # the sub-volume's centre, last axis
        assert 8 * int(part) - 1 <= centre <= 8 * (int(part) + 1) + 1, (seed, part, centre)
