"""erf / erfc for the exact GELU, in float64 and without SciPy.

Polynomials fitted at import time to ``math.erf``/``math.erfc`` and a
continued fraction in the far tail; ``_normal_cdf`` is what ``gelu`` uses.
"""

from __future__ import annotations

import math

import numpy as np

# erf / erfc for the exact GELU, in float64 and without SciPy.  Three ranges
# of z = |x| / sqrt(2):
#   z < 1         erf(z) = z * A(z^2)              (then erfc = 1 - erf)
#   1 <= z < 4    erfc(z) = exp(-z^2) * B(z)
#   z >= 4        erfc(z) = exp(-z^2) / (sqrt(pi) * K(z)), K Laplace's continued fraction
# exp(-z^2) is computed as exp(-x^2 / 2) straight from x, so that the rounding
# of z = |x| / sqrt(2) does not reach the exponent.
# A and B are polynomials built at import time by interpolating math.erf /
# math.erfc at Chebyshev points (degrees 12 and 24 reach the accuracy of the
# sampled values, a few 1e-15 relative); they are stored in the power basis of
# the variable mapped onto [-1, 1] and evaluated with Horner's rule.
_ERF_SMALL_END = 1.0
_ERFC_MID_END = 4.0
_ERFC_CF_TERMS = 24  # enough for 1e-16 relative at z >= 4


def _chebyshev_power_coefficients(func, degree, lo, hi):
    """Power-series coefficients in u = (v - mid) / half_width of func's
    Chebyshev interpolant of the given degree on [lo, hi]."""
    mid, half_width = 0.5 * (lo + hi), 0.5 * (hi - lo)

    def on_window(u):
        return np.array([func(mid + half_width * float(ui)) for ui in np.atleast_1d(u)])

    cheb = np.polynomial.chebyshev.chebinterpolate(on_window, degree)
    return np.polynomial.chebyshev.cheb2poly(cheb), mid, half_width


def _erf_over_z_of_t(t):
    """erf(sqrt t) / sqrt t, continued to 2/sqrt(pi) at t = 0."""
    z = math.sqrt(t)
    return math.erf(z) / z if z > 0 else 2.0 / math.sqrt(math.pi)


def _erfc_times_exp_square(z):
    """erfc(z) * exp(z^2) for the z in [1, 4] it is sampled on."""
    hi = math.floor(z * 4096.0) / 4096.0  # hi*hi is exact; see _exp_neg_half_square
    return math.erfc(z) * math.exp(hi * hi) * math.exp((z - hi) * (z + hi))


_ERF_A = _chebyshev_power_coefficients(_erf_over_z_of_t, 12, 0.0, _ERF_SMALL_END**2)
_ERFC_B = _chebyshev_power_coefficients(_erfc_times_exp_square, 24, _ERF_SMALL_END, _ERFC_MID_END)


def _horner(fit, v):
    """Evaluate a fit from _chebyshev_power_coefficients at the float64 array v."""
    coef, mid, half_width = fit
    u = (v - mid) / half_width
    y = np.full_like(u, coef[-1])
    for c in coef[-2::-1]:
        y *= u
        y += c
    return y


def _exp_neg_half_square(a):
    """exp(-a**2 / 2) for float64 a >= 0, without the rounding error of a*a."""
    hi = np.floor(a * 4096.0) / 4096.0  # few enough bits that hi*hi is exact
    return np.exp(-0.5 * (hi * hi)) * np.exp(-0.5 * ((a - hi) * (a + hi)))


def _erfc_far(z, a):
    """erfc(z) for float64 z = a / sqrt(2) >= 4: exp(-z^2) / (sqrt(pi) * K), with
    Laplace's continued fraction K = z + (1/2)/(z + (2/2)/(z + (3/2)/(z + ...)))
    evaluated from a fixed depth upwards."""
    k_frac = z.copy()
    for k in range(_ERFC_CF_TERMS, 0, -1):
        k_frac = z + (0.5 * k) / k_frac
    return _exp_neg_half_square(a) / (math.sqrt(math.pi) * k_frac)


def _normal_cdf(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 in float64, accurate in both tails."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        a = np.abs(x)
        z = a * (1.0 / math.sqrt(2.0))
        small = z < _ERF_SMALL_END
        if small.all():  # the common case: no masking needed
            erfc = 1.0 - z * _horner(_ERF_A, z * z)
        else:
            erfc = np.full(z.shape, np.nan)  # NaN stays NaN
            mid = ~small & (z < _ERFC_MID_END)
            far = z >= _ERFC_MID_END  # includes +inf
            zs, zm, zf = z[small], z[mid], z[far]
            erfc[small] = 1.0 - zs * _horner(_ERF_A, zs * zs)
            erfc[mid] = _exp_neg_half_square(a[mid]) * _horner(_ERFC_B, zm)
            # erfc(z) < 1e-690 beyond z = 40: zero, also for huge or infinite z
            erfc[far] = np.where(zf > 40.0, 0.0, _erfc_far(zf, a[far]))
        half = 0.5 * erfc
        return np.where(x >= 0, 1.0 - half, half)
