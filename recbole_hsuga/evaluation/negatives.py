"""Sampled-evaluation negatives that stay fixed for a seed, across evaluations and models.

RecBole redraws ``uni100`` negatives on every evaluation (a known RecBole behaviour), so two models --
or two epochs of one model -- are ranked against different candidates. Here each user's
negatives are a pure function of ``(seed, phase, user token, item tokens, excluded
items)``: the generator is seeded from the *original* user token and draws from items
ordered by their original token, so RecBole's internal re-indexing (which can differ
between models that load different feature files) cannot change the candidates.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np

PHASE_CODES = {"valid": 1, "test": 2}


def sample_fixed_negatives(
    user_tokens: Sequence[str],
    excluded: Sequence[np.ndarray],
    item_tokens: np.ndarray,
    n_negatives: int,
    seed: int,
    phase: str,
) -> np.ndarray:
    """Draw ``n_negatives`` distinct items per user, uniformly among items not excluded.

    Args:
        user_tokens: ``[n_users]`` original user ids (strings), one per evaluated user.
        excluded: per user, internal item ids that may not be negatives (the user's own
            interactions, target included).
        item_tokens: ``[n_items]`` original item id of each internal id; index 0 is
            RecBole's padding item and is never drawn.
        n_negatives: negatives per user (100 in the usual protocol).
        seed: experiment seed.
        phase: ``"valid"`` or ``"test"``; the two phases get independent draws.

    Returns:
        ``[n_users, n_negatives]`` int64 internal item ids.
    """
    if phase not in PHASE_CODES:
        raise ValueError(f"phase must be one of {sorted(PHASE_CODES)}, got {phase!r}")
    if len(user_tokens) != len(excluded):
        raise ValueError("user_tokens and excluded must have the same length")
    item_tokens = np.asarray(item_tokens).astype(str)
    internal_ids = np.arange(1, len(item_tokens))
    # Candidate universe ordered by original token: independent of RecBole's id mapping.
    universe = internal_ids[np.argsort(item_tokens[1:], kind="stable")]
    n_universe = len(universe)
    out = np.empty((len(user_tokens), n_negatives), dtype=np.int64)
    for row, (token, banned) in enumerate(zip(user_tokens, excluded)):
        banned = np.unique(np.asarray(banned, dtype=np.int64))
        if n_universe - np.isin(universe, banned).sum() < n_negatives:
            raise ValueError(
                f"user {token!r} has fewer than {n_negatives} items left to sample negatives from "
                f"({n_universe} items, {len(banned)} excluded)"
            )
        rng = np.random.default_rng([seed, PHASE_CODES[phase], zlib.crc32(str(token).encode())])
        chosen: list[np.ndarray] = []
        taken = 0
        while taken < n_negatives:
            draw = universe[rng.integers(0, n_universe, size=2 * n_negatives + len(banned))]
            draw = draw[~np.isin(draw, banned)]
            # Keep first occurrences only, in draw order, then ban what was taken.
            _, first = np.unique(draw, return_index=True)
            draw = draw[np.sort(first)][: n_negatives - taken]
            chosen.append(draw)
            taken += len(draw)
            banned = np.concatenate([banned, draw])
        out[row] = np.concatenate(chosen)
    return out
