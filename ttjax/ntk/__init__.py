"""Empirical NTK engine: linearisation, Θ = J Jᵀ (exact or sketched), spectrum, cache.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from ttjax.ntk import compute_ntk, NtkConfig, NtkMethod
    >>> f = lambda p, x: jnp.tanh(x @ p["w"]) @ p["v"]
    >>> params = {"w": jnp.ones((4, 8)) / 2, "v": jnp.ones((8, 3)) / 8}
    >>> x = jnp.arange(20.0).reshape(5, 4) / 20
    >>> res = compute_ntk(f, params, x, config=NtkConfig(method=NtkMethod.EXACT),
    ...                   key=jax.random.key(0))
    >>> res.theta.shape, res.f0.shape
    ((15, 15), (5, 3))
"""

from ._backbone_linear import BackboneLinearizedModel as BackboneLinearizedModel
from ._backbone_linear import linearize_backbone as linearize_backbone
from ._cache import NtkCacheError as NtkCacheError
from ._cache import cache_key as cache_key
from ._cache import cached_ntk as cached_ntk
from ._cache import load_ntk as load_ntk
from ._cache import save_ntk as save_ntk
from ._config import AccumDtype as AccumDtype
from ._config import NtkConfig as NtkConfig
from ._config import NtkMethod as NtkMethod
from ._config import NtkResult as NtkResult
from ._driver import compute_ntk as compute_ntk
from ._layers import discover_layers as discover_layers
from ._layers import run_with_taps as run_with_taps
from ._linearize import LinearizedModel as LinearizedModel
from ._linearize import linearize as linearize
from ._params import make_layout as make_layout
from ._spectrum import eigh_spectrum as eigh_spectrum
from ._spectrum import ntk_spectrum as ntk_spectrum

__all__ = [
    "AccumDtype",
    "BackboneLinearizedModel",
    "LinearizedModel",
    "NtkCacheError",
    "NtkConfig",
    "NtkMethod",
    "NtkResult",
    "cache_key",
    "cached_ntk",
    "compute_ntk",
    "discover_layers",
    "eigh_spectrum",
    "linearize",
    "linearize_backbone",
    "load_ntk",
    "make_layout",
    "ntk_spectrum",
    "run_with_taps",
    "save_ntk",
]
