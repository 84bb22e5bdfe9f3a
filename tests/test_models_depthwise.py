"""Depthwise convolution by shifted multiply-adds equals XLA's grouped convolution.

Oracle: ``lax.conv_general_dilated(feature_group_count=C)``, forward and both gradients, with
TensorFlow-SAME padding (what EfficientNet-Lite0 uses; odd and even sizes make it asymmetric).
"""

# pyright: reportArgumentType=false
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from ttjax.models import ConvImpl, conv2d
from ttjax.models._conv import explicit_padding
from ttjax.models._depthwise import depthwise_conv_shifted

CASES = [(k, s, hw) for k in (3, 5) for s in (1, 2) for hw in ((9, 9), (8, 11))]


def _xla(x, k, strides, pads):
    return lax.conv_general_dilated(
        x, k, strides, pads, dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=x.shape[-1],
    )  # fmt: skip


def _loss(conv, x, k, strides, pads, probe):
    # a fixed random probe makes every output element's cotangent different
    return jnp.sum(jnp.sin(conv(x, k, strides, pads)) * probe)


def _shifted(x, k, strides, pads):
    return depthwise_conv_shifted(x, k, strides=strides, pads=pads)


@pytest.mark.parametrize(("dtype", "rtol", "atol"), [
    # float64: only the summation order differs → agreement to rounding (~1e-15 relative)
    (jnp.float64, 1e-12, 1e-12),
    # float32: sums of ≤ 25 (forward) / ≤ 2·11·11 (weight gradient) products of O(1) numbers
    # in a different order → a few ulps of the sum's magnitude (≈ 1e-6 · 50)
    (jnp.float32, 2e-5, 1e-4),
])  # fmt: skip
@pytest.mark.parametrize("case", CASES)
def test_shifted_depthwise_matches_xla_forward_and_gradients(case, dtype, rtol, atol):
    kernel, stride, hw = case
    c = 6
    kx, kk, kp = jax.random.split(jax.random.key(kernel * 10 + stride), 3)
    x = jax.random.normal(kx, (2, *hw, c), dtype)
    k = jax.random.normal(kk, (kernel, kernel, 1, c), dtype)
    strides = (stride, stride)
    pads = explicit_padding("SAME", hw, (kernel, kernel), strides)
    ref = _xla(x, k, strides, pads)
    got = _shifted(x, k, strides, pads)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)
    probe = jax.random.normal(kp, ref.shape, dtype)
    g_ref = jax.grad(_loss, argnums=(1, 2))(_xla, x, k, strides, pads, probe)
    g_got = jax.grad(_loss, argnums=(1, 2))(_shifted, x, k, strides, pads, probe)
    for name, a, b in zip(("d/dx", "d/dkernel"), g_got, g_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("impl", [ConvImpl.IM2COL, ConvImpl.PATCHES])
def test_cpu_routes_use_the_shifted_depthwise(impl):
    x = jax.random.normal(jax.random.key(0), (1, 7, 7, 4), jnp.float64)
    k = jax.random.normal(jax.random.key(1), (3, 3, 1, 4), jnp.float64)
    got = conv2d(x, k, strides=(2, 2), padding="SAME", feature_group_count=4, impl=impl)
    pads = explicit_padding("SAME", (7, 7), (3, 3), (2, 2))
    np.testing.assert_array_equal(got, _shifted(x, k, (2, 2), pads))
    np.testing.assert_allclose(got, _xla(x, k, (2, 2), pads), rtol=1e-12, atol=1e-12)
