"""Leave-one-out evaluation: fixed sampled negatives, ranks, head/tail groups."""
