"""Testing tools for step maps: the contract check and reference systems with known answers.

`check_system` checks that a `dynalysis.System` keeps the step-map contract every analysis
relies on (shapes, batch independence, dtype/device conversion, J·Q against finite
differences, readout, declared capabilities), as scikit-learn's ``check_estimator`` does for
estimators. Run it on your own system before analysing it.

Reference maps (closed forms in docs/science.md §5):

- `logistic` — ``x ← 4x(1−x)``: λ = ln 2.
- `henon` — Hénon map, a = 1.4, b = 0.3: λ ≈ (0.4192, −1.6232), sum ln b exactly.
- `linear_map` — ``h ← A h (+ B x)``: λ_i = ln|eig(A)|, Jacobian ``A``.
- `tanh_rnn` — ``h ← tanh(g W h + U x)`` with ``W ~ N(0, 1/N)``: λ₁ < 0 for g < 1.

Each returns a `dynalysis.MapSystem` computing in float64 (and converting with ``to``).
"""
from ._check import check_system as check_system
from ._maps import henon as henon
from ._maps import linear_map as linear_map
from ._maps import logistic as logistic
from ._maps import tanh_rnn as tanh_rnn

__all__ = ["check_system", "logistic", "henon", "linear_map", "tanh_rnn"]
