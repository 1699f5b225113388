"""``check_encoder_spec``: a method's declared encoder rebuilds from its spec alone.

For plugin tests of method variants the conformance kit's default configs do not reach (other
encoders, poolings, input widths): the module ``encoder_spec()`` builds has exactly the
``state_dict`` keys and shapes of ``embedder()``, its kwargs are plain JSON, and with the
embedder's weights it embeds ``inputs`` as ``embed`` does.
"""

from __future__ import annotations

from typing import Any


def check_encoder_spec(
    method: Any, inputs: Any, *, space: str | None = None, atol: float = 1e-5
) -> dict[str, Any]:
    """Assert that ``method`` declares an encoder (of ``space``) that its spec rebuilds;
    returns the spec. ``method`` is put in eval mode."""
    import json

    import torch

    from sslkit.core.engine.method import embed_in, embedder_of, encoder_spec_of
    from sslkit.core.export.encoder import build_encoder

    name = type(method).__name__
    method.eval()
    spec = encoder_spec_of(method, space)
    assert spec is not None, f"{name} declares no encoder_spec"
    assert json.loads(json.dumps(spec)) == spec
    encoder = embedder_of(method, space)
    state = encoder.state_dict()
    fresh = build_encoder(spec)
    want = {k: tuple(v.shape) for k, v in state.items()}
    got = {k: tuple(v.shape) for k, v in fresh.state_dict().items()}
    assert got == want, (
        f"{name}: {spec['build']} builds other weights than embedder(): "
        f"missing {sorted(set(want) - set(got))}, extra {sorted(set(got) - set(want))}, "
        f"other shapes {sorted(k for k in set(got) & set(want) if got[k] != want[k])}"
    )
    fresh.load_state_dict(state, strict=True)
    fresh.eval()
    with torch.no_grad():
        a = embed_in(method, inputs, space).float()
        b = fresh(inputs).float()
        c = encoder(inputs).float()
    assert a.shape == b.shape, f"{name}: embed gives {tuple(a.shape)}, the encoder {b.shape}"
    torch.testing.assert_close(c, a, atol=atol, rtol=1e-5, msg=f"{name}: embedder() != embed()")
    torch.testing.assert_close(b, a, atol=atol, rtol=1e-5, msg=f"{name}: rebuilt != embed()")
    return spec
