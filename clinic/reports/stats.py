"""The statistics of the reports, from SciPy: a rate's 95 % confidence interval (Wilson) and the lot
safety signal (Fisher's exact test, one-sided, with the Benjamini–Hochberg correction across lots)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Rate:
    """``count`` sessions of ``total``, per 100, with its 95 % Wilson interval (per 100 too)."""

    count: int
    total: int

    @property
    def per_100(self) -> float:
        return 100 * self.count / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.count, self.total)


@lru_cache(maxsize=4096)
def wilson_interval(count: int, total: int) -> tuple[float, float]:
    """The 95 % Wilson interval of count/total, per 100 (the same few pairs recur on every page: cached)."""
    if not total:
        return (0.0, 0.0)
    low, high = stats.binomtest(count, total).proportion_ci(0.95, method="wilson")
    return (100 * float(low), 100 * float(high))


@dataclass(frozen=True)
class LotFigures:
    """A lot's sessions and those with a side effect of grade 2+ or serious, beside the same for the other
    lots of its product over the same days."""

    lot_id: int
    product_id: int
    sessions: int
    signal: int
    sibling_sessions: int
    sibling_signal: int


@dataclass(frozen=True)
class LotSignal:
    figures: LotFigures
    p_value: float
    q_value: float  # after the Benjamini–Hochberg correction across every lot tested together
    flagged: bool

    @property
    def rate(self) -> Rate:
        return Rate(self.figures.signal, self.figures.sessions)

    @property
    def sibling_rate(self) -> Rate:
        return Rate(self.figures.sibling_signal, self.figures.sibling_sessions)


def lot_signals(lots: Sequence[LotFigures], *, min_sessions: int, level: float) -> list[LotSignal]:
    """Test each lot with at least ``min_sessions`` sessions and sibling lots to compare with: is its rate
    higher than its siblings'? Fisher's exact test, one-sided; the p-values of all lots tested together
    are corrected for testing many lots (Benjamini–Hochberg), and a lot is flagged when its corrected
    value is below ``level`` and its rate is above its siblings'."""
    tested = [lot for lot in lots if lot.sessions >= min_sessions and lot.sibling_sessions > 0]
    if not tested:
        return []
    p_values = fisher_greater(tested)
    q_values = [float(q) for q in stats.false_discovery_control(p_values, method="bh")]
    return [LotSignal(lot, p, q, q < level and lot.signal * lot.sibling_sessions > lot.sibling_signal * lot.sessions)
            for lot, p, q in zip(tested, p_values, q_values, strict=True)]


def fisher_greater(lots: Sequence[LotFigures]) -> list[float]:
    """One-sided Fisher's exact test of each lot against its siblings, all lots in one vectorised call.

    With the margins fixed, the lot's count of sessions with a side effect follows the hypergeometric
    distribution; Fisher's one-sided p-value is its upper tail, P(X >= observed). This is exactly what
    ``stats.fisher_exact(table, alternative="greater")`` returns (a test checks it), without a Python call
    per lot: a chain tests a thousand lots per page."""
    observed = np.array([lot.signal for lot in lots])
    sessions = np.array([lot.sessions for lot in lots])
    everyone = sessions + np.array([lot.sibling_sessions for lot in lots])
    affected = observed + np.array([lot.sibling_signal for lot in lots])
    return [float(p) for p in stats.hypergeom.sf(observed - 1, everyone, affected, sessions)]


def as_percent(chance: float) -> str:
    """A probability as a percentage to two significant figures, never in exponent form ("100", "4.2",
    "0.031", "under 0.001"): '%.2g' wrote 100 % as "1e+02"."""
    percent = chance * 100
    if percent >= 10:
        return f"{percent:.0f}"
    return f"{percent:.2g}" if percent >= 0.001 else "under 0.001"
