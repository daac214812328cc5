"""The text side of ISRF: item and user ids written as tokens, prompts assembled as tensors,
and the prefix trie that keeps beam search on valid item ids.

A T5 model reads ``item_1234`` as tokens. Every item's written form is tokenised once
(:class:`IdTokens`), so a batch's encoder input is assembled from RecBole's ``item_seq``
by gathering and packing rows of a table, with no Python loop over users
(:func:`assemble_prompts`). Two tokenisers:

- :class:`DigitVocabulary`, the CPU default: a vocabulary of a few dozen tokens (``item_``,
  ``user_``, punctuation, the words of the template, one token per digit), for a T5 built
  from a config and trained from scratch;
- any Hugging Face tokenizer in a local checkpoint folder (``isrf_t5_path``), for a
  pre-trained T5 (``t5-small`` as the paper uses), loaded with ``AutoTokenizer``.

Item numbers are :func:`recbole_hsuga.data.text_ids.text_id_numbers` (a seeded permutation by
default): the written ids of the shared Beauty follow first appearance, which a model that
reads ids as text can exploit (see :mod:`recbole_hsuga.model.next_id`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

#: what the encoder reads after the soft prompts: ``user_12 has purchased item_3 item_7 ... predict the next item``
#: (the released code's bare test template ``user_{} item_{}`` with the words of its training templates);
#: the decoder writes the bare number, as released: ``3 7 </s>``.
PROMPT_HEAD = "user_{user} has purchased"
PROMPT_ITEM = "item_{item}"
PROMPT_TAIL = "predict the next item"
TARGET = "{item}"

#: whole-word kinds of a token (which graph vector it is given).
WORD_NONE, WORD_USER, WORD_ITEM = 0, 1, 2


class DigitVocabulary:
    """A minimal tokenizer for a T5 trained from scratch: words of the template, punctuation,
    ``item_`` / ``user_`` and one token per digit (so that a trie over item ids branches at most
    eleven ways: ten digits and the end of the id)."""

    SPECIAL = ["<pad>", "</s>", "<unk>"]
    WORDS = ["item_", "user_", ",", "has", "purchased", "predict", "the", "next", "item"]

    def __init__(self) -> None:
        self.tokens = self.SPECIAL + self.WORDS + [str(d) for d in range(10)]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_token_id, self.eos_token_id, self.unk_token_id = 0, 1, 2
        self._split = re.compile(r"item_|user_|\d|[^\s\d]+?(?=item_|user_|\d|\s|$)")

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (unknown words -> ``<unk>``)."""
        return [self.index.get(piece, self.unk_token_id) for piece in self._split.findall(text)]


class CheckpointTokenizer:
    """A Hugging Face tokenizer from a local folder (``AutoTokenizer.from_pretrained``)."""

    def __init__(self, path: str | Path) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        if self.tokenizer.pad_token_id is None or self.tokenizer.eos_token_id is None:
            raise ValueError(f"{path}: the tokenizer needs a pad and an end-of-sequence token")
        self.pad_token_id = int(self.tokenizer.pad_token_id)
        self.eos_token_id = int(self.tokenizer.eos_token_id)

    def __len__(self) -> int:
        return len(self.tokenizer)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def padded_table(pieces: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of token ids -> ``(table [n, P] long, lengths [n] long)``, right-padded with ``pad``."""
    width = max(1, max((len(p) for p in pieces), default=1))
    table = torch.full((len(pieces), width), pad, dtype=torch.long)
    for row, piece in enumerate(pieces):
        table[row, : len(piece)] = torch.tensor(piece, dtype=torch.long)
    return table, torch.tensor([len(p) for p in pieces], dtype=torch.long)


@dataclass
class IdTokens:
    """Every user's and item's written form, tokenised once.

    Attributes:
        item_piece: ``[n_items, P]`` tokens of ``item_<n>`` in the prompt (row 0, padding: empty).
        item_piece_len: ``[n_items]``.
        item_word_len: ``[n_items]`` how many of a piece's tokens are the id (all of them with the
            templates here; the whole-word mask allows a template with punctuation after the id).
        item_target: ``[n_items, T]`` tokens of the number ``<n>`` followed by the end token:
            the decoder's target and the path of the item in the trie (row 0: empty).
        item_target_len: ``[n_items]``.
        user_piece: ``[n_users, U]`` tokens of the prompt head for each user.
        user_piece_len: ``[n_users]``.
        user_word_len: ``[n_users]`` how many of them are the id ``user_<u>``.
        tail: ``[K]`` tokens of the prompt tail, then the end token.
        pad, eos: the tokenizer's pad and end ids.
    """

    item_piece: torch.Tensor
    item_piece_len: torch.Tensor
    item_word_len: torch.Tensor
    item_target: torch.Tensor
    item_target_len: torch.Tensor
    user_piece: torch.Tensor
    user_piece_len: torch.Tensor
    user_word_len: torch.Tensor
    tail: torch.Tensor
    pad: int
    eos: int

    @classmethod
    def build(cls, encode: Callable[[str], list[int]], pad: int, eos: int, item_numbers: np.ndarray,
              n_users: int) -> "IdTokens":
        """Tokenise ``item_<item_numbers[i]>`` for every item and ``user_<u>`` for every user."""
        items = [[]] + [encode(PROMPT_ITEM.format(item=int(n))) for n in item_numbers[1:]]
        targets = [[]] + [encode(TARGET.format(item=int(n))) + [eos] for n in item_numbers[1:]]
        users = [[]] + [encode(PROMPT_HEAD.format(user=u)) for u in range(1, n_users)]
        item_piece, item_piece_len = padded_table(items, pad)
        item_target, item_target_len = padded_table(targets, pad)
        user_piece, user_piece_len = padded_table(users, pad)
        item_word_len = torch.tensor([0] + [len(encode(f"item_{int(n)}")) for n in item_numbers[1:]], dtype=torch.long)
        user_word_len = torch.tensor([0] + [len(encode(f"user_{u}")) for u in range(1, n_users)], dtype=torch.long)
        for name, words, pieces in (("item", item_word_len, item_piece_len), ("user", user_word_len, user_piece_len)):
            if bool((words > pieces).any()):
                raise ValueError(f"the tokenizer splits a {name} id differently inside the prompt than alone")
        tail = torch.tensor(encode(PROMPT_TAIL) + [eos], dtype=torch.long)
        return cls(item_piece, item_piece_len, item_word_len, item_target, item_target_len, user_piece,
                   user_piece_len, user_word_len, tail, pad, eos)


def assemble_prompts(tokens: IdTokens, users: torch.Tensor, item_seq: torch.Tensor, item_seq_len: torch.Tensor,
                     max_tokens: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Encoder inputs for a batch: ``user_<u> has purchased item_<a> item_<b> ... predict the next item </s>``.

    The oldest items are dropped first when a prompt would exceed ``max_tokens``.

    Args:
        users: ``[B]`` internal user ids.
        item_seq: ``[B, L]`` RecBole's left-aligned input items (0 = padding).
        item_seq_len: ``[B]``.
    Returns:
        ``input_ids [B, S]``, ``attention_mask [B, S]`` (bool), ``word_kind [B, S]`` (``WORD_*``)
        and ``word_id [B, S]`` (the user or item id a token belongs to, 0 otherwise); ``S`` is
        the longest prompt of the batch, right-padded.
    """
    device = item_seq.device
    batch, length = item_seq.shape
    positions = torch.arange(length, device=device).unsqueeze(0)
    valid = positions < item_seq_len.unsqueeze(1)  # [B, L]
    piece_len = torch.where(valid, tokens.item_piece_len.to(device)[item_seq], 0)  # [B, L]
    head_len = tokens.user_piece_len.to(device)[users]  # [B]
    tail_len = len(tokens.tail)
    # keep the newest items whose pieces fit: a suffix sum over positions, newest first
    budget = (max_tokens - head_len - tail_len).clamp(min=0).unsqueeze(1)
    from_newest = torch.flip(torch.cumsum(torch.flip(piece_len, [1]), 1), [1])  # tokens from position i to the end
    keep = valid & (from_newest <= budget)
    piece_len = torch.where(keep, piece_len, 0)

    width = tokens.item_piece.size(1)
    item_tokens = tokens.item_piece.to(device)[item_seq]  # [B, L, P]
    item_mask = (torch.arange(width, device=device) < piece_len.unsqueeze(-1))  # [B, L, P]
    head_width = tokens.user_piece.size(1)
    head_tokens = tokens.user_piece.to(device)[users]  # [B, U]
    head_mask = torch.arange(head_width, device=device).unsqueeze(0) < head_len.unsqueeze(1)
    tail_tokens = tokens.tail.to(device).unsqueeze(0).expand(batch, -1)
    tail_mask = torch.ones_like(tail_tokens, dtype=torch.bool)

    flat_tokens = torch.cat([head_tokens, item_tokens.flatten(1), tail_tokens], dim=1)
    flat_mask = torch.cat([head_mask, item_mask.flatten(1), tail_mask], dim=1)
    # only the id's own tokens carry its whole-word vector; the template's words and commas do not
    head_word = torch.arange(head_width, device=device).unsqueeze(0) < tokens.user_word_len.to(device)[users].unsqueeze(1)
    item_word = torch.arange(width, device=device) < tokens.item_word_len.to(device)[item_seq].unsqueeze(-1)
    flat_kind = torch.cat([torch.where(head_word, WORD_USER, WORD_NONE), torch.where(item_word, WORD_ITEM, WORD_NONE).flatten(1),
                           torch.full_like(tail_tokens, WORD_NONE)], dim=1)
    flat_word = torch.cat([users.unsqueeze(1).expand(-1, head_width), item_seq.unsqueeze(-1).expand(-1, -1, width).flatten(1),
                           torch.zeros_like(tail_tokens)], dim=1)
    # pack the valid tokens of each row to the left, in order
    target = torch.cumsum(flat_mask.long(), dim=1) - 1
    lengths = flat_mask.sum(dim=1)
    size = int(lengths.max())
    rows = torch.arange(batch, device=device).unsqueeze(1).expand_as(target)
    input_ids = torch.full((batch, size), tokens.pad, dtype=torch.long, device=device)
    word_kind = torch.zeros((batch, size), dtype=torch.long, device=device)
    word_id = torch.zeros((batch, size), dtype=torch.long, device=device)
    input_ids[rows[flat_mask], target[flat_mask]] = flat_tokens[flat_mask]
    word_kind[rows[flat_mask], target[flat_mask]] = flat_kind[flat_mask]
    word_id[rows[flat_mask], target[flat_mask]] = flat_word[flat_mask]
    attention_mask = torch.arange(size, device=device).unsqueeze(0) < lengths.unsqueeze(1)
    return input_ids, attention_mask, word_kind, word_id


@dataclass
class ItemTrie:
    """Every item's target tokens as a prefix tree, in arrays a batched beam search can index.

    Attributes:
        child_token: ``[n_nodes, W]`` tokens that continue node ``n`` (``-1``: no more).
        child_node: ``[n_nodes, W]`` the node each of them leads to.
        item_of: ``[n_nodes]`` the item a node completes (the node reached by an item's last
            token, its end token), 0 elsewhere.
        subtree_items: ``[n_nodes]`` how many items a path through the node can still reach.
        item_path: ``[n_items, depth]`` the nodes an item's tokens lead through (0-padded), so
            that a search can subtract the items it must not reach from ``subtree_items``.
        depth: the longest path (tokens per item, end token included).
    Node 0 is the root.
    """

    child_token: torch.Tensor
    child_node: torch.Tensor
    item_of: torch.Tensor
    subtree_items: torch.Tensor
    item_path: torch.Tensor
    depth: int

    @classmethod
    def build(cls, targets: torch.Tensor, lengths: torch.Tensor) -> "ItemTrie":
        """From ``IdTokens.item_target`` / ``item_target_len`` (row 0 skipped)."""
        children: list[dict[int, int]] = [{}]
        item_of = [0]
        depth = int(lengths.max())
        item_path = torch.zeros((len(targets), depth), dtype=torch.long)
        for item in range(1, len(targets)):
            node = 0
            for step, token in enumerate(targets[item, : int(lengths[item])].tolist()):
                nxt = children[node].get(token)
                if nxt is None:
                    nxt = len(children)
                    children[node][token] = nxt
                    children.append({})
                    item_of.append(0)
                node = nxt
                item_path[item, step] = node
            if item_of[node]:
                raise ValueError(f"items {item_of[node]} and {item} are written with the same tokens")
            item_of[node] = item
        width = max(1, max(len(c) for c in children))
        child_token = torch.full((len(children), width), -1, dtype=torch.long)
        child_node = torch.zeros((len(children), width), dtype=torch.long)
        for node, table in enumerate(children):
            for slot, (token, nxt) in enumerate(sorted(table.items())):
                child_token[node, slot] = token
                child_node[node, slot] = nxt
        subtree = torch.zeros(len(children), dtype=torch.long)
        subtree.scatter_add_(0, item_path[1:].flatten(), torch.ones(item_path[1:].numel(), dtype=torch.long))
        subtree[0] = len(targets) - 1  # padded path entries landed on the root
        return cls(child_token, child_node, torch.tensor(item_of, dtype=torch.long), subtree, item_path, depth)
