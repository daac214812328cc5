"""A small synthetic dataset in the raw layout ``prepare`` reads.

The embedded default for the README's end-to-end demo and for tests: a few hundred users
of a make-believe beauty shop. Users have one or two favourite categories and drift to a
new one part-way through long histories (so the HSU edit loop has something to edit);
item popularity is skewed, so head/tail splits are not trivial. Deterministic per seed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

CATEGORIES = {
    "Nail Polish": ["Lacquer", "Gel Polish", "Top Coat", "Nail Strengthener"],
    "Lipstick": ["Matte Lipstick", "Lip Gloss", "Lip Liner", "Lip Balm"],
    "Hair Care": ["Shampoo", "Conditioner", "Hair Mask", "Hair Oil"],
    "Skin Care": ["Face Cream", "Serum", "Cleanser", "Sunscreen"],
    "Fragrance": ["Eau de Parfum", "Body Mist", "Eau de Toilette", "Perfume Oil"],
    "Eye Makeup": ["Mascara", "Eyeliner", "Eyeshadow Palette", "Brow Pencil"],
}
BRANDS = ["Lumina", "Verda", "Nordic Bloom", "Aster & Co", "Pure Petal", "Solenne"]
ADJECTIVES = ["Classic", "Velvet", "Radiant", "Hydrating", "Rose", "Midnight", "Citrus", "Silk"]


def make_toy_raw(out_dir: str | Path, n_users: int = 300, n_items: int = 180, seed: int = 0) -> Path:
    """Write ``interactions.txt`` and ``items.jsonl`` of a synthetic dataset.

    Args:
        out_dir: folder to create; it gets ``interactions.txt`` (``user item`` per line,
            a user's lines contiguous and chronological) and ``items.jsonl`` (one JSON
            object per item: ``item_id``, ``title``, ``brand``, ``categories``).
        n_users: users, each with 5 to 40 interactions (a few long ones on purpose).
        n_items: items spread over the six categories.
        seed: random seed.

    Returns:
        ``out_dir`` as a Path.
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(CATEGORIES)
    item_category = np.arange(n_items) % len(names)
    items = []
    for index in range(n_items):
        category = names[item_category[index]]
        kind = CATEGORIES[category][rng.integers(len(CATEGORIES[category]))]
        brand = BRANDS[rng.integers(len(BRANDS))]
        title = f"{brand} {ADJECTIVES[rng.integers(len(ADJECTIVES))]} {kind}, No. {index + 1}"
        items.append({"item_id": index + 1, "title": title, "brand": brand, "categories": ["Beauty", category, kind]})
    # Zipf-like popularity inside each category: a few items take most interactions.
    popularity = 1.0 / (1.0 + rng.permutation(n_items)) ** 0.9
    lines = []
    for user in range(1, n_users + 1):
        length = int(rng.integers(5, 12)) if rng.random() < 0.8 else int(rng.integers(16, 41))
        favourites = rng.choice(len(names), size=2, replace=False)
        switch_at = length // 2 if length > 15 else length
        for position in range(length):
            category = favourites[0] if position < switch_at else favourites[1]
            if rng.random() < 0.15:  # exploration outside the favourite
                category = rng.integers(len(names))
            pool = np.flatnonzero(item_category == category)
            weights = popularity[pool] / popularity[pool].sum()
            lines.append(f"{user} {int(rng.choice(pool, p=weights)) + 1}")
    (out / "interactions.txt").write_text("\n".join(lines) + "\n")
    with (out / "items.jsonl").open("w") as handle:
        for item in items:
            handle.write(json.dumps(item) + "\n")
    logger.info("toy dataset: %d users, %d items, %d interactions in %s", n_users, n_items, len(lines), out)
    return out
