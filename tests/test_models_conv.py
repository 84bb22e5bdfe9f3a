"""The im2col / patches convolutions equal ``lax.conv`` / ``nn.Conv`` (float64 oracle)."""

# pyright: reportArgumentType=false, reportCallIssue=false
# (flax's apply() is typed as "Any | tuple"; numpy stubs reject jax arrays)
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax.models import Conv, ConvImpl, conv2d

CASES = [
    # (kernel, stride, padding, cin, cout, groups)
    ((3, 3), (1, 1), ((1, 1), (1, 1)), 3, 5, 1),
    ((7, 7), (2, 2), ((3, 3), (3, 3)), 3, 4, 1),
    ((1, 1), (2, 2), ((0, 0), (0, 0)), 4, 6, 1),
    ((3, 3), (2, 2), "SAME", 4, 4, 4),  # depthwise, TF-SAME with asymmetric pads
    ((5, 5), (1, 1), "SAME", 6, 6, 6),
    ((3, 3), (2, 2), "SAME", 3, 8, 1),
]


@pytest.mark.parametrize("impl", [ConvImpl.IM2COL, ConvImpl.PATCHES])
@pytest.mark.parametrize("case", CASES)
def test_conv2d_matches_lax_conv(impl, case):
    kernel_hw, strides, padding, cin, cout, groups = case
    kx, kk = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (2, 9, 10, cin), jnp.float64)  # odd/even sizes: SAME asymmetry
    k = jax.random.normal(kk, (*kernel_hw, cin // groups, cout), jnp.float64)
    ref = conv2d(
        x, k, strides=strides, padding=padding, feature_group_count=groups, impl=ConvImpl.XLA
    )
    got = conv2d(x, k, strides=strides, padding=padding, feature_group_count=groups, impl=impl)
    # float64 sums of ≤ 150 products of O(1) numbers: agreement to ~1e-13 (rounding order only).
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("impl", [ConvImpl.IM2COL, ConvImpl.XLA])
def test_conv_layer_equals_flax_conv_and_its_gradient(impl):
    x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3), jnp.float64)
    ours = Conv(5, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)), impl=impl)
    ref = nn.Conv(5, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)), param_dtype=jnp.float64)
    v = ref.init(jax.random.key(2), x)
    v = jax.tree_util.tree_map(lambda a: a + 0.1, v)  # non-zero bias
    np.testing.assert_allclose(ours.apply(v, x), ref.apply(v, x), rtol=1e-12, atol=1e-12)
    g1 = jax.grad(lambda v: jnp.sum(jnp.sin(ours.apply(v, x))))(v)
    g2 = jax.grad(lambda v: jnp.sum(jnp.sin(ref.apply(v, x))))(v)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
