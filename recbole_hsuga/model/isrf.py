"""ISRF: a T5 that writes the next item's id, with individual and group interests from two graphs.

Iterative Semantic Reasoning from Individual to Group Interests for Generative Recommendation
with LLMs (``../shared/papers/ISRF-paper.md``; its base is ELMRec). Per training row
(``train_rows: segment`` by default, the release's sampler: one random segment of each user's
training items per epoch, :mod:`recbole_hsuga.data.segment_loader`; or RecBole's prefix rows;
either way an ``item_seq`` and the target ``item``):

1. **Prompt.** ``[3 soft prompts] user_<u> has purchased item_<a> item_<b> ... predict the
   next item </s>``, the decoder writing the bare number ``<x> </s>``
   (:mod:`recbole_hsuga.model.isrf_text`); ids written as text under ``text_ids`` (a seeded permutation by default: the written Beauty ids follow first
   appearance, a leak a text-id model can learn, see :class:`~recbole_hsuga.model.NextId`).
2. **Individual interests.** LightGCN over the training user-item graph
   (:mod:`recbole_hsuga.model.isrf_graphs`); initial item vectors are a 2-layer adapter over
   the frozen PCA of the item semantic table (``<dataset>.<item_semantic_suffix>``; the
   paper's reasoning texts when ``dataset_tools`` made them, any item text vectors
   otherwise), initial user vectors are learnt.
3. **Group interests.** LightGCN over the users' top-``isrf_group_k`` cosine graph of the user
   semantic vectors (``<dataset>.<semantic_suffix>``), from its own learnt user vectors.
4. **Whole-word embeddings.** Every token of an id gets the id's graph vector added
   (``token + isrf_word_scale x word``): the user's individual vector for ``user_<u>``, the
   item's individual vector for ``item_<i>``; other tokens share one learnt vector.
5. **Losses.** Token cross-entropy of the target id (``<x> </s>``), plus
   ``isrf_align_weight`` x the direct-to-sequential alignment (InfoNCE between the group user
   vector and the individual user vector, the latter the teacher, detached), plus
   ``isrf_seq_align_weight`` x the sequential alignment (InfoNCE between the group user vector
   and the mean individual vector of the row's input items), temperature ``isrf_temperature``.
   The group branch reaches the ranking only through these terms (as released).
6. **Ranking.** ``predict`` (the sampled protocol's candidates) scores an item by the
   log-likelihood of its id's tokens; ``full_sort_predict`` runs a beam search
   (``isrf_beams`` beams) constrained by a prefix trie to valid item ids, the row's input
   items excluded, and gives the found items their log-likelihood and every other item a
   score below all of them. Metrics at cut-offs up to ``isrf_beams`` are therefore exact for
   the beam's list; a target outside the beam counts as a miss. The sampled protocol ranks the
   target among its 100 negatives by their exact log-likelihoods (``candidate_scores``, which
   the evaluator calls instead of reading the full-sort scores).

Shapes: ``B`` batch rows, ``L`` window, ``S`` prompt tokens (after the soft prompts), ``T`` id
tokens, ``d`` the T5 width (``isrf_d_model``, or the checkpoint's), ``N`` users, ``M`` items
(RecBole internal ids, padding 0 included), ``W`` beams.

Differences from the released code (htired/ISRF ``model/module.py``, ``util/utils.py``,
``pretrain.py``, ``SR.py``; its base WangXFng/ELMRec; read 2026-12-05). As released the training
script does not run (it unpacks 6 values where the batchers return 7, builds ``SeqBatchify``
with 3 of its 4 arguments), so what follows is what its model and data code do:

- **Graphs in the sequential task.** Released, the sequential task adds only *entity-position*
  whole-word embeddings (the i-th id of the prompt gets row i of a table); the graph vectors
  enter the direct and explanation tasks only, so the sequential model sees neither graph nor
  item semantics. Here, as the paper's Eq. 5 says, the ids' tokens carry the individual
  graph's user and item vectors in the sequential task.
- **Alignment.** Released: a soft-target CLIP loss (targets ``softmax((XX' + YY') / 2)``,
  temperature 1, no normalisation, weight 1) between the group user vectors and, in the direct
  task, the individual user vectors (detached), in the sequential task the mean over *every*
  token position of the entity-position embeddings, padding included. Here both terms on every
  batch (there is one task): InfoNCE over cosines at ``isrf_temperature`` between the group
  vector and (a) the individual user vector, detached, (b) the mean individual vector of the
  row's input items (the paper's Eq. 9), each user once per batch (its prefix rows would be
  each other's false negatives), weights ``isrf_align_weight`` / ``isrf_seq_align_weight``.
- **No leaks.** Released: the user reasoning prompts read the last 20 items of the whole
  sequence, validation and test items included, and so does the user-user graph built from
  them; the user-item graph is built from the explanation split's review pairs, which include
  validation interactions. Here user texts come from training items only (``dataset_tools
  reason``, or the history-text vectors) and the graph from
  :class:`~recbole_hsuga.data.training_history.TrainingHistory`.
- **Ids re-indexed** by default (``text_ids: permuted``); the released data keeps the
  first-appearance numbering of P5's Beauty.
- **Constrained beam search, history excluded, exact scores.** Released: unconstrained beam
  search (30 beams, 20 returned), strings that are not numbers dropped, history items removed
  afterwards, the list padded with random items (duplicates possible). Here every beam is a
  valid, distinct, unseen item id; prefixes that can only end on excluded items are pruned;
  scores are sums of token log-probabilities (ids differ in length; no length penalty).
- **Sequential task only**, one random segment of at most 20 input items per user per epoch,
  drawn as released (start, then end after it; ``train_rows: prefix`` trains every prefix
  instead); released, sequential batches rotate with direct and explanation batches; the
  explanation task needs review texts this data does not have, and the sampled protocol ranks
  the same 100 negatives through ``predict`` instead of the direct task.
- **Labels** ignore padding (released: padded with id 0, so padding positions are scored).
- **Scales.** Released: users ``N(0, 5)``, whole-word term times ``alpha`` 9-11, t5-small's
  token embeddings. Here graph vectors start at unit variance (the PCA output is scaled to unit
  mean variance) on the scale of a T5 built from a config, ``isrf_word_scale`` 1.
- **A T5 from a config by default** (CPU-sized, ``isrf_d_model`` / ``isrf_layers`` /
  ``isrf_heads`` / ``isrf_d_ff``) with a digit vocabulary; ``isrf_t5_path`` loads a local
  pre-trained checkpoint and its tokenizer (the paper's t5-small).
- **Early stopping** on the project's validation ranking metric through RecBole's trainer
  (released: the mean validation text loss, patience never reset).
- **Kept as released:** the adapter (two linear maps, no activation, over PCA(512) of the frozen
  item vectors), the group graph (top-K cosine neighbours plus a self-loop, directed,
  normalised by row sums), 4 LightGCN layers averaged with layer 0, 3 soft prompts before the
  tokens, AdamW 1e-3, batch 64, 20 input items, 30 beams, the bare-number target.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import SequentialRecommender
from torch import nn
from transformers import T5ForConditionalGeneration
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from recbole_hsuga.data.dataset import SemanticSequentialDataset, SemanticSettings
from recbole_hsuga.data.text_ids import text_id_numbers, text_ids_from_config
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError
from recbole_hsuga.model.isrf_graphs import interaction_graph, light_gcn, transposed, user_similarity_graph
from recbole_hsuga.model.isrf_text import (WORD_ITEM, WORD_USER, CheckpointTokenizer, DigitVocabulary, IdTokens,
                                           ItemTrie, assemble_prompts)

logger = logging.getLogger(__name__)

SEMANTIC_MODES = ("adapter", "none")
#: the name under which this transformers version's T5 takes a decoding cache.
_CACHE_KEYWORD = ("cache" if "cache" in inspect.signature(T5ForConditionalGeneration.forward).parameters
                  else "past_key_values")
#: the score of an item the beam search did not reach: below every log-likelihood it gives.
UNREACHED = -1e9
#: decoder rows per pass when scoring candidate lists (bounds the repeated encoder states held at once).
CANDIDATE_ROWS = 2048
#: the tensors of :class:`IdTokens` and :class:`ItemTrie` kept as buffers (they follow the model's device).
TEXT_FIELDS = ("item_piece", "item_piece_len", "item_word_len", "item_target", "item_target_len", "user_piece",
               "user_piece_len", "user_word_len", "tail")
TRIE_FIELDS = ("child_token", "child_node", "item_of", "subtree_items", "item_path")


class ISRFDataset(SemanticSequentialDataset):
    """The item semantic table unless ``isrf_semantic: none``; the user table unless ``isrf_group: False``."""

    @classmethod
    def semantic_table_specs(cls, config: Any) -> dict[str, tuple[str | None, str]]:
        settings = SemanticSettings.from_config(config)
        specs: dict[str, tuple[str | None, str]] = {}
        if str(config["isrf_semantic"] or "adapter").lower() != "none":
            specs["item"] = (settings.item_suffix, "item_semantic_suffix")
        if bool(config["isrf_group"]):
            specs["user"] = (settings.user_suffix, "semantic_suffix")
        return specs


def pca(table: np.ndarray, dim: int) -> np.ndarray:
    """The first ``dim`` principal components of ``table``'s rows (centred), ``[n, min(dim, d)]`` float32,
    scaled by one factor so that the mean variance of a component is 1 (sentence vectors are
    unit-norm, so their components are ~0.05: an adapter would start with near-zero output)."""
    centred = table - table.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    reduced = centred @ vt[: min(dim, vt.shape[0])].T
    spread = float(np.sqrt(reduced.var(axis=0).mean()))
    return (reduced / spread if spread > 0 else reduced).astype(np.float32)


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean InfoNCE of ``anchor[i]`` against ``positive[i]`` with the other rows as negatives (cosine / temperature)."""
    logits = F.normalize(anchor, dim=-1) @ F.normalize(positive, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(anchor), device=anchor.device))


class ISRF(SequentialRecommender):
    """ISRF on RecBole's sequential data (prefix rows; see the module docstring).

    Configuration (``properties/model/ISRF.yaml``): ``isrf_*``, ``text_ids``, ``text_ids_seed``.
    """

    dataset_class = ISRFDataset

    def __init__(self, config: Any, dataset: Any) -> None:
        super().__init__(config, dataset)
        self.USER_ID = config["USER_ID_FIELD"]
        self.semantic = str(config["isrf_semantic"] or "adapter").lower()
        if self.semantic not in SEMANTIC_MODES:
            raise InputError(f"isrf_semantic must be one of {SEMANTIC_MODES}, got {config['isrf_semantic']!r}")
        self.group = bool(config["isrf_group"])
        self.gcn_layers = int(config["isrf_gcn_layers"])
        self.word_scale = float(config["isrf_word_scale"])
        self.align_weight = float(config["isrf_align_weight"]) if self.group else 0.0
        self.seq_align_weight = float(config["isrf_seq_align_weight"]) if self.group else 0.0
        self.temperature = float(config["isrf_temperature"])
        self.beams = int(config["isrf_beams"])
        self.max_tokens = int(config["isrf_max_tokens"])
        if self.beams < 1 or self.max_tokens < 8:
            raise InputError(f"isrf_beams must be >= 1 and isrf_max_tokens >= 8, got {self.beams}, {self.max_tokens}")

        self.t5, tokenizer = self._t5(config)
        width = int(self.t5.config.d_model)
        order, seed = text_ids_from_config(config)
        numbers = text_id_numbers(dataset, self.ITEM_ID, order, seed)
        self.id_tokens = IdTokens.build(tokenizer.encode, tokenizer.pad_token_id, tokenizer.eos_token_id, numbers,
                                        dataset.user_num)
        self.trie = ItemTrie.build(self.id_tokens.item_target, self.id_tokens.item_target_len)
        self._register_text_buffers()

        self.soft_prompt = nn.Parameter(torch.empty(int(config["isrf_prompt_length"]), width).normal_(0.0, 0.02))
        self.shared_word = nn.Parameter(torch.zeros(width))
        history = TrainingHistory.from_datasets(dataset)
        self.register_buffer("individual_graph", interaction_graph(history), persistent=False)
        # unit-variance vectors, on the scale of T5's token embeddings (released: N(0, 5) users)
        self.user_embedding = nn.Embedding(dataset.user_num, width)
        nn.init.normal_(self.user_embedding.weight, std=1.0)
        if self.semantic == "adapter":
            table = dataset.semantic_table("item") if hasattr(dataset, "semantic_table") else None
            if table is None:
                raise TypeError("ISRF with isrf_semantic: adapter needs the item semantic table from ISRFDataset; "
                                "build the data with recbole_hsuga.runner.prepare_data")
            reduced = pca(table.table, int(config["isrf_pca_dim"]))
            self.register_buffer("item_semantic", torch.from_numpy(reduced), persistent=False)  # frozen, [M, p]
            middle = (reduced.shape[1] + width) // 2
            # two linear maps, no activation between them, as released
            self.adapter = nn.Sequential(nn.Linear(reduced.shape[1], middle), nn.Linear(middle, width))
        else:
            self.item_embedding = nn.Embedding(self.n_items, width)
            nn.init.normal_(self.item_embedding.weight, std=1.0)
        if self.group:
            users = dataset.semantic_table("user") if hasattr(dataset, "semantic_table") else None
            if users is None:
                raise TypeError("ISRF with isrf_group: True needs the user semantic table from ISRFDataset")
            graph, edges = user_similarity_graph(users.table, users.has_vector, int(config["isrf_group_k"]))
            self.register_buffer("group_graph", graph, persistent=False)
            self.register_buffer("group_graph_t", transposed(graph), persistent=False)  # directed: K per row
            self.group_embedding = nn.Embedding(dataset.user_num, width)
            nn.init.normal_(self.group_embedding.weight, std=1.0)
            logger.info("ISRF: group graph of %d directed top-%d edges over %d users with vectors", edges,
                        int(config["isrf_group_k"]), int(users.has_vector.sum()))
        logger.info("ISRF: T5 width %d, %d trie nodes (ids of at most %d tokens), item ids %s",
                    width, len(self.trie.item_of), self.trie.depth, order)

    def _t5(self, config: Any) -> tuple[nn.Module, Any]:
        """A T5 from ``isrf_t5_path`` (checkpoint and tokenizer), else from a config with the digit vocabulary."""
        from transformers import T5Config

        path = config["isrf_t5_path"]
        if path:
            tokenizer = CheckpointTokenizer(path)
            return T5ForConditionalGeneration.from_pretrained(str(path)), tokenizer
        tokenizer = DigitVocabulary()
        width, heads = int(config["isrf_d_model"]), int(config["isrf_heads"])
        if width % heads:
            raise InputError(f"isrf_heads ({heads}) must divide isrf_d_model ({width})")
        t5_config = T5Config(vocab_size=len(tokenizer), d_model=width, d_kv=width // heads, d_ff=int(config["isrf_d_ff"]),
                             num_layers=int(config["isrf_layers"]), num_decoder_layers=int(config["isrf_layers"]),
                             num_heads=heads, dropout_rate=float(config["isrf_dropout"]),
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                             decoder_start_token_id=tokenizer.pad_token_id)
        return T5ForConditionalGeneration(t5_config), tokenizer

    def _register_text_buffers(self) -> None:
        # buffers follow the model to its device; not saved (rebuilt from the dataset)
        for name in TEXT_FIELDS:
            self.register_buffer(f"text_{name}", getattr(self.id_tokens, name), persistent=False)
            setattr(self.id_tokens, name, getattr(self, f"text_{name}"))
        for name in TRIE_FIELDS:
            self.register_buffer(f"trie_{name}", getattr(self.trie, name), persistent=False)

    def _apply(self, fn, *args, **kwargs):  # keep the dataclasses pointing at the moved buffers
        result = super()._apply(fn, *args, **kwargs)
        for name in TEXT_FIELDS:
            setattr(self.id_tokens, name, getattr(self, f"text_{name}"))
        return result

    # ------------------------------------------------------------------ graphs
    def individual(self) -> tuple[torch.Tensor, torch.Tensor]:
        """LightGCN on the training user-item graph: ``(users [N, d], items [M, d])``."""
        items = self.adapter(self.item_semantic) if self.semantic == "adapter" else self.item_embedding.weight
        # D^-1/2 A D^-1/2 of an undirected graph is its own transpose
        every = light_gcn(self.individual_graph, torch.cat([self.user_embedding.weight, items]), self.gcn_layers,
                          self.individual_graph)
        return every[: self.user_embedding.num_embeddings], every[self.user_embedding.num_embeddings:]

    def group_users(self) -> torch.Tensor:
        """LightGCN on the users' semantic top-K graph: ``[N, d]``."""
        return light_gcn(self.group_graph, self.group_embedding.weight, self.gcn_layers, self.group_graph_t)

    # ------------------------------------------------------------------ encoder
    def encode(self, users: torch.Tensor, item_seq: torch.Tensor, item_seq_len: torch.Tensor,
               user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states of the rows' prompts: ``(hidden [B, P + S, d], mask [B, P + S])``."""
        input_ids, mask, kind, word_id = assemble_prompts(self.id_tokens, users, item_seq, item_seq_len, self.max_tokens)
        words = self.shared_word.expand(*input_ids.shape, -1)
        is_user, is_item = kind == WORD_USER, kind == WORD_ITEM
        words = torch.where(is_user.unsqueeze(-1), user_vectors[word_id * is_user], words)
        words = torch.where(is_item.unsqueeze(-1), item_vectors[word_id * is_item], words)
        embedded = self.t5.get_input_embeddings()(input_ids) + self.word_scale * words
        prompt = self.soft_prompt.unsqueeze(0).expand(len(users), -1, -1)
        embedded = torch.cat([prompt, embedded], dim=1)
        mask = torch.cat([torch.ones(len(users), prompt.size(1), dtype=torch.bool, device=mask.device), mask], dim=1)
        hidden = self.t5.encoder(inputs_embeds=embedded, attention_mask=mask.long()).last_hidden_state
        return hidden, mask

    def _rows(self, interaction: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return interaction[self.USER_ID], interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]

    def _target_log_likelihood(self, hidden: torch.Tensor, mask: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``[B]`` sum of the log-probabilities of each row's item id tokens (teacher forcing)."""
        targets = self.id_tokens.item_target[items]  # [B, T]
        valid = torch.arange(targets.size(1), device=targets.device) < self.id_tokens.item_target_len[items].unsqueeze(1)
        labels = targets.masked_fill(~valid, -100)
        logits = self.t5(encoder_outputs=(hidden,), attention_mask=mask.long(), labels=labels).logits  # [B, T, V]
        token_lp = torch.log_softmax(logits, dim=-1).gather(2, targets.unsqueeze(-1)).squeeze(-1)
        return (token_lp * valid).sum(dim=1)

    # ------------------------------------------------------------------ training
    def calculate_loss(self, interaction: Any) -> torch.Tensor:
        users, item_seq, item_seq_len = self._rows(interaction)
        user_vectors, item_vectors = self.individual()
        hidden, mask = self.encode(users, item_seq, item_seq_len, user_vectors, item_vectors)
        targets = self.id_tokens.item_target[interaction[self.POS_ITEM_ID]]
        valid = torch.arange(targets.size(1), device=targets.device) < \
            self.id_tokens.item_target_len[interaction[self.POS_ITEM_ID]].unsqueeze(1)
        loss = self.t5(encoder_outputs=(hidden,), attention_mask=mask.long(),
                       labels=targets.masked_fill(~valid, -100)).loss
        if self.group and (self.align_weight or self.seq_align_weight):
            # one row per user: a user's prefix rows would be each other's false negatives
            unique_users, first = np.unique(users.cpu().numpy(), return_index=True)
            pick = torch.from_numpy(first).to(users.device)
            group = self.group_users()[users[pick]]
            if len(pick) > 1 and self.align_weight:
                loss = loss + self.align_weight * info_nce(group, user_vectors[users[pick]].detach(), self.temperature)
            if len(pick) > 1 and self.seq_align_weight:
                seq_mask = (torch.arange(item_seq.size(1), device=item_seq.device) < item_seq_len.unsqueeze(1))[pick]
                seq_items = item_vectors[item_seq[pick]] * seq_mask.unsqueeze(-1)
                seq_mean = seq_items.sum(dim=1) / seq_mask.sum(dim=1, keepdim=True).clamp(min=1)
                loss = loss + self.seq_align_weight * info_nce(group, seq_mean, self.temperature)
        return loss

    # ------------------------------------------------------------------ ranking
    def predict(self, interaction: Any) -> torch.Tensor:
        """``[B]``: the log-likelihood of each row's candidate item id.

        The sampled protocol repeats a user's row once per candidate (101 times); each distinct
        prompt is encoded once and its states shared by its candidates' decoder passes.
        """
        users, item_seq, item_seq_len = self._rows(interaction)
        keys = torch.cat([users.unsqueeze(1), item_seq_len.unsqueeze(1), item_seq], dim=1)
        distinct, inverse = torch.unique(keys, dim=0, return_inverse=True)
        user_vectors, item_vectors = self.individual()
        hidden, mask = self.encode(distinct[:, 0], distinct[:, 2:], distinct[:, 1], user_vectors, item_vectors)
        return self._target_log_likelihood(hidden[inverse], mask[inverse], interaction[self.ITEM_ID])

    @torch.no_grad()
    def candidate_scores(self, interaction: Any, candidates: torch.Tensor) -> torch.Tensor:
        """``[B, C]``: the log-likelihood of each row's candidate ids (the sampled protocol's
        target and negatives; the evaluator calls it because the full-sort scores only order
        the beam's list). Each prompt is encoded once; decoder passes run in chunks."""
        users, item_seq, item_seq_len = self._rows(interaction)
        user_vectors, item_vectors = self.individual()
        hidden, mask = self.encode(users, item_seq, item_seq_len, user_vectors, item_vectors)
        per_chunk = max(1, CANDIDATE_ROWS // candidates.size(1))
        scores = []
        for start in range(0, len(users), per_chunk):
            rows = torch.arange(start, min(start + per_chunk, len(users)), device=hidden.device)
            expanded = rows.repeat_interleave(candidates.size(1))
            scores.append(self._target_log_likelihood(hidden[expanded], mask[expanded],
                                                      candidates[rows].flatten()).view(len(rows), -1))
        return torch.cat(scores)

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        """``[B, M]``: beam items get their log-likelihood, every other item ``UNREACHED``."""
        users, item_seq, item_seq_len = self._rows(interaction)
        user_vectors, item_vectors = self.individual()
        hidden, mask = self.encode(users, item_seq, item_seq_len, user_vectors, item_vectors)
        items, scores = self.beam_search(hidden, mask, item_seq)
        out = torch.full((len(users), self.n_items), UNREACHED, device=hidden.device)
        found = items > 0
        rows = torch.arange(len(users), device=hidden.device).unsqueeze(1).expand_as(items)
        out[rows[found], items[found]] = scores[found]
        return out

    @torch.no_grad()
    def beam_search(self, hidden: torch.Tensor, mask: torch.Tensor, exclude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top ``isrf_beams`` item ids by log-likelihood, decoding only along the item trie.

        Args:
            hidden, mask: encoder states ``[B, P + S, d]`` and mask.
            exclude: ``[B, L]`` items no beam may end on (the row's input items; 0 ignored).
        Returns:
            ``items [B, W]`` (0 where fewer than ``W`` ids were found) and their summed token
            log-probabilities ``[B, W]``, best first.
        """
        batch, device = hidden.size(0), hidden.device
        banned = torch.zeros(batch, self.n_items, dtype=torch.bool, device=device)
        banned.scatter_(1, exclude, True)
        banned[:, 0] = False
        # per row, the items each node can still reach once the banned ones are taken out: a
        # prefix whose every completion is banned is never chosen (it would end the beam empty)
        rows, items = banned.nonzero(as_tuple=True)
        paths = self.trie_item_path[items]  # [E, depth]
        reachable = self.trie_subtree_items.unsqueeze(0).repeat(batch, 1)
        reachable.index_put_((rows.unsqueeze(1).expand_as(paths).flatten(), paths.flatten()),
                             -(paths.flatten() > 0).long(), accumulate=True)
        start = self.t5.config.decoder_start_token_id
        tokens = torch.full((batch, 1, 1), start, dtype=torch.long, device=device)  # [B, beams, t]
        nodes = torch.zeros(batch, 1, dtype=torch.long, device=device)
        scores = torch.zeros(batch, 1, device=device)
        child_token, child_node, item_of = self.trie_child_token, self.trie_child_node, self.trie_item_of
        width = child_token.size(1)
        # the decoder reads one new token per step: self-attention keys and values of the earlier
        # tokens, and the cross-attention ones of the encoder states (computed once, at the first
        # step, for one beam per row), come from the cache, reordered as beams are chosen
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        rows = torch.arange(batch, device=device)
        beam_rows = rows  # encoder row of each flattened beam
        for _ in range(self.trie.depth):
            beams = tokens.size(1)
            finished = item_of[nodes] > 0  # [B, beams]
            # the cache is updated in place (the keyword is `cache` from transformers 5, `past_key_values` before)
            output = self.t5(encoder_outputs=(hidden[beam_rows],), attention_mask=mask.long()[beam_rows],
                             decoder_input_ids=tokens[:, :, -1].reshape(-1, 1), use_cache=True, **{_CACHE_KEYWORD: cache})
            log_probs = torch.log_softmax(output.logits[:, -1].float(), dim=-1).view(batch, beams, -1)
            next_token = child_token[nodes]  # [B, beams, width]
            next_node = child_node[nodes]
            step = log_probs.gather(2, next_token.clamp(min=0))
            allowed = (next_token >= 0) & (reachable.gather(1, next_node.flatten(1)).view_as(next_node) > 0)
            step = step.masked_fill(~allowed, float("-inf"))
            # a finished beam carries over once, unchanged, in its first slot
            carry = torch.full_like(step, float("-inf"))
            carry[..., 0] = 0.0
            step = torch.where(finished.unsqueeze(-1), carry, step)
            # empty slots (and finished beams) feed the pad token; their scores are -inf or carried
            next_token = torch.where(finished.unsqueeze(-1) | (next_token < 0), torch.full_like(next_token, self.id_tokens.pad),
                                     next_token)
            next_node = torch.where(finished.unsqueeze(-1), nodes.unsqueeze(-1).expand_as(next_node), next_node)
            total = (scores.unsqueeze(-1) + step).flatten(1)  # [B, beams * width]
            keep = min(self.beams, total.size(1))
            scores, index = total.topk(keep, dim=1)
            parent = index // width  # [B, keep]
            tokens = torch.cat([tokens.gather(1, parent.unsqueeze(-1).expand(-1, -1, tokens.size(2))),
                                next_token.flatten(1).gather(1, index).unsqueeze(-1)], dim=2)
            nodes = next_node.flatten(1).gather(1, index)
            cache.reorder_cache((rows.unsqueeze(1) * beams + parent).flatten())
            beam_rows = rows.repeat_interleave(keep)
        items = item_of[nodes]
        found = torch.isfinite(scores) & (items > 0)
        return items.masked_fill(~found, 0), scores.masked_fill(~found, UNREACHED)
