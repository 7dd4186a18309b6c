"""Tomita grammars 1–7: classify binary strings as in or out of a regular language.

The seven languages of Tomita (1982), in the form used by Weiss, Goldberg & Yahav (2018):

==  ==========================================================================
1   ``1*``
2   ``(10)*``
3   no odd-length run of 1s followed (anywhere later) by an odd-length run of 0s
4   no ``000`` substring
5   an even number of 0s and an even number of 1s
6   ``(#0 − #1) ≡ 0 (mod 3)``
7   ``0*1*0*1*``
==  ==========================================================================

Each language is a minimal DFA below (state 0 is the start); the tests check every DFA
against independent regex / counting recognisers on all strings up to length 12.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import OptionError
from .._core.options import check_positive_int
from ._base import GeneratedTask, Split, register_task

__all__ = ["TomitaTask", "TOMITA_DFAS", "tomita_accepts"]

# grammar -> (transitions[state] = (next on "0", next on "1"), accepting states)
TOMITA_DFAS: dict[int, tuple[tuple[tuple[int, int], ...], frozenset[int]]] = {
    1: (((1, 0), (1, 1)), frozenset({0})),
    2: (((2, 1), (0, 2), (2, 2)), frozenset({0})),
    # 0: no odd 1-run yet, 1: inside an odd 1-run, 2: odd 0-run after an odd 1-run,
    # 3: an odd 1-run seen, no pending odd 0-run, 4: dead
    3: (((0, 1), (2, 0), (3, 4), (2, 3), (4, 4)), frozenset({0, 1, 3})),
    4: (((1, 0), (2, 0), (3, 0), (3, 3)), frozenset({0, 1, 2})),
    5: (((2, 1), (3, 0), (0, 3), (1, 2)), frozenset({0})),  # state = 2·(#0 mod 2) + (#1 mod 2)
    6: (((1, 2), (2, 0), (0, 1)), frozenset({0})),  # state = (#0 − #1) mod 3
    7: (((0, 1), (2, 1), (2, 3), (4, 3), (4, 4)), frozenset({0, 1, 2, 3})),
}
PAD, ZERO, ONE = 0, 1, 2  # one-hot channels of the inputs
_MAX_LEN = 1000  # completion counts (up to 2^L) stay finite in float64


def _tables(grammar: int) -> tuple[torch.Tensor, torch.Tensor]:
    trans, accept = TOMITA_DFAS[grammar]
    table = torch.tensor(trans, dtype=torch.int64)  # (states, 2)
    accepting = torch.zeros(len(trans), dtype=torch.bool)
    accepting[list(accept)] = True
    return table, accepting


def tomita_accepts(grammar: int, bits: torch.Tensor,
                   lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Run grammar ``grammar``'s DFA: ``bits (n, L)`` of 0/1 → ``(n,)`` bool membership.

    With ``lengths``, string ``i`` is the last ``lengths[i]`` entries of row ``i`` (left padding,
    as in `TomitaTask`'s inputs); the entries before are ignored.
    """
    table, accepting = _tables(grammar)
    n, L = bits.shape
    lengths = torch.full((n,), L) if lengths is None else lengths
    state = torch.zeros(n, dtype=torch.int64)
    for t in range(L):  # loop over time only
        active = t >= L - lengths
        state = torch.where(active, table[state, bits[:, t].long()], state)
    return accepting[state]


def _completions(table: torch.Tensor, good: torch.Tensor, max_len: int) -> torch.Tensor:
    """``counts[m, s]``: number of strings of length m that take state s into ``good`` (float64)."""
    counts = torch.zeros(max_len + 1, len(table), dtype=torch.float64)
    counts[0] = good.to(torch.float64)
    for m in range(1, max_len + 1):
        counts[m] = counts[m - 1][table].sum(1)
    return counts


@register_task("tomita")
class TomitaTask(GeneratedTask):
    """Membership of binary strings in Tomita grammar 1–7, with a longer-string test split.

    Parameters
    ----------
    grammar : int, default 1
        1 to 7 (see the module docstring).
    min_len, max_len : int, default 1, 20
        String lengths of the train and val splits (inclusive).
    test_min_len, test_max_len : int, default 21, 30
        String lengths of the test split, longer than training by default, to measure
        generalisation (set them equal to ``min_len, max_len`` for an i.i.d. test split).
    n_train, n_val, n_test : int
    seed : int, default 0

    Notes
    -----
    Sampling: every split has ``⌊n/2⌋`` positive and ``n − ⌊n/2⌋`` negative strings, in random
    order. For each string its class is fixed first, then a length uniformly among the lengths
    in range that have strings of that class (e.g. grammar 2 has positives of even length
    only), then the string uniformly among all strings of that class and length (sampled
    symbol by symbol from DFA completion counts). Short strings therefore repeat, and a string
    can occur in more than one split.

    Inputs are one-hot over ``[pad, 0, 1]`` and **left-padded**: ``inputs (n, T, 3)`` float32
    with ``T = max_len`` (train, val) or ``test_max_len`` (test); string ``i`` occupies the last
    ``len_i`` steps, so the network reads the label at the last step. ``targets (n,)`` int64
    (1 = in the language); ``target_mode = "last"``, ``loss = "cross_entropy"``, 2 classes.
    ``seq_len`` is the training length ``max_len``.

    Chance baseline: with balanced classes the best input-independent prediction is
    ``(1/2, 1/2)``, cross-entropy ``ln 2``.

    References
    ----------
    M. Tomita, "Dynamic construction of finite automata from examples using hill-climbing",
    Proc. 4th Annual Conference of the Cognitive Science Society, 1982.
    G. Weiss, Y. Goldberg and E. Yahav, "Extracting automata from recurrent neural networks
    using queries and counterexamples", ICML 2018.
    """

    def __init__(self, *, grammar: int = 1, min_len: int = 1, max_len: int = 20,
                 test_min_len: int = 21, test_max_len: int = 30, n_train: int = 1000,
                 n_val: int = 200, n_test: int = 200, seed: int = 0):
        grammar = check_positive_int("grammar", grammar, maximum=7)
        lengths = {}
        ranges = (("min_len", "max_len", min_len, max_len),
                  ("test_min_len", "test_max_len", test_min_len, test_max_len))
        for lo_name, hi_name, lo, hi in ranges:
            lengths[lo_name] = check_positive_int(lo_name, lo)
            lengths[hi_name] = check_positive_int(hi_name, hi, minimum=lengths[lo_name],
                                                  maximum=_MAX_LEN)
        self.options = dict(grammar=grammar, **lengths,
                            **self._size_options(n_train, n_val, n_test, seed))
        self.seq_len = self.options["max_len"]
        self.input_size, self.output_size = 3, 2
        self.target_mode = "last"
        self.loss = "cross_entropy"
        for split in ("train", "test"):
            for label in (0, 1):
                self._lengths(split, label)  # raises early when a range has no string of a class

    @property
    def chance_loss(self) -> float:
        return math.log(2)

    def input_conditions(self) -> dict[str, torch.Tensor]:
        """Each one-hot code held constant: ``pad``, ``symbol_0``, ``symbol_1`` (the zero vector
        never occurs in the data)."""
        eye = torch.eye(3)
        return {"pad": eye[PAD], "symbol_0": eye[ZERO], "symbol_1": eye[ONE]}

    def _lengths(self, split: str, label: int) -> torch.Tensor:
        """Lengths in ``split``'s range that have at least one string of class ``label``."""
        o = self.options
        prefix = "test_" if split == "test" else ""
        lo, hi = o[prefix + "min_len"], o[prefix + "max_len"]
        table, accepting = _tables(o["grammar"])
        counts = _completions(table, accepting if label else ~accepting, hi)[:, 0]
        lengths = torch.arange(lo, hi + 1)
        lengths = lengths[counts[lo:] > 0]
        if len(lengths) == 0:
            kind = "in" if label else "outside"
            raise OptionError(f"grammar {o['grammar']} has no strings {kind} the language with "
                              f"lengths {lo}..{hi}; widen the range of the {split} split")
        return lengths

    def _sample(self, n: int, generator: torch.Generator, split: str) -> Split:
        table, accepting = _tables(self.options["grammar"])
        labels = torch.zeros(n, dtype=torch.int64)
        labels[: n // 2] = 1
        labels = labels[torch.randperm(n, generator=generator)]
        lengths = torch.zeros(n, dtype=torch.int64)
        for label in (0, 1):
            allowed = self._lengths(split, label)
            rows = labels == label
            pick = torch.randint(0, len(allowed), (int(rows.sum()),), generator=generator)
            lengths[rows] = allowed[pick]
        T = self.options["test_max_len"] if split == "test" else self.options["max_len"]
        # counts[c][m, s]: completions of length m from state s into class c
        counts = torch.stack([_completions(table, ~accepting, T),
                              _completions(table, accepting, T)])
        state = torch.zeros(n, dtype=torch.int64)
        codes = torch.full((n, T), PAD, dtype=torch.int64)
        uniform = torch.rand(n, T, generator=generator, dtype=torch.float64)
        start = T - lengths  # left padding: string i occupies steps start_i .. T-1
        for t in range(T):  # loop over time only
            active = t >= start
            # completions of the remaining T-1-t symbols after a "0" / a "1" here: (n, 2)
            ways = counts[labels[:, None], T - 1 - t, table[state]]
            p_one = ways[:, 1] / ways.sum(1).clamp(min=1e-300)
            bit = (uniform[:, t] < p_one).long()
            state = torch.where(active, table[state, bit], state)
            codes[:, t] = torch.where(active, ZERO + bit, codes[:, t])
        return Split(F.one_hot(codes, 3).to(torch.float32), labels)
