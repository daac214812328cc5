"""In-process llama.cpp that decodes many sequences together: continuous batching on the CPU.

A small model on a CPU is memory-bound at batch 1: every generated token reads all the
weights once. Decoding ``parallel`` sequences in one ``llama_decode`` reads them once for all,
so tokens per second grow with the number of sequences until compute is the limit. This
engine drives llama.cpp's low-level batch API (``llama-cpp-python``'s ctypes bindings):

- the prompts of one ``generate`` call are formatted with the model's chat template (as
  ``create_chat_completion`` formats them) and tokenised;
- their longest common prefix (the static instructions of the HSU prompts) is decoded once
  into sequence 0 and copied into each slot's cache (``llama_memory_seq_cp``);
- every sequence has its own KV stream (``kv_unified=False``): in one unified cache every
  token's attention scans the cells of all sequences, and the same 46 HSU requests took
  188 s unified against 144 s with one stream per sequence (SmolLM2, 2 threads, 16 slots);
- up to ``parallel`` requests occupy slots; each step is one batch holding the next prompt
  chunk of newly started slots and one token of every generating slot; a finished slot's
  cells are dropped and the next request starts in it (continuous batching);
- every slot samples with its own sampler: the request's GBNF grammar (when
  ``constrained``), then greedy (temperature 0) or llama-cpp-python's chain for a positive
  temperature (top-k 40, top-p 0.95, min-p 0.05, temperature, seeded draw), the sequential
  engine's decoding. Greedy grammar sampling first checks the unconstrained argmax against the
  grammar and masks the whole vocabulary only when it is not allowed (llama.cpp's own
  ``common_sampler`` does the same): the masked argmax is that token whenever it is allowed,
  and masking ~49k candidates per token was a third of the time of a constrained step.

Stage keys include the engine name (``llamacpp-batch``), so its records never mix with the
sequential engine's: batched matrix products round differently, and a greedy choice between
two near-equal tokens may differ.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataset_tools import DatasetToolsError
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest
from dataset_tools.hsu.packaged_models import resolve_gguf

logger = logging.getLogger(__name__)

#: the shared prompt prefix lives in this sequence; slots are sequences 1..parallel.
PREFIX_SEQ = 0


@dataclass
class _Slot:
    """One request in flight."""

    index: int  # position of the request in the generate() call
    seq: int
    prompt: list[int]  # prompt tokens after the shared prefix
    max_tokens: int
    sampler: Any  # a sampler chain for temperature > 0, else None (greedy)
    grammar: Any  # the greedy path's grammar sampler, or None
    fed: int = 0  # prompt tokens already decoded
    pos: int = 0  # next position in the sequence
    generated: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)
    started: float = field(default_factory=time.perf_counter)
    finish_reason: str | None = None


class LlamaCppBatchEngine(Engine):
    """llama.cpp in this process, ``parallel`` sequences per decode step.

    Args:
        model: GGUF path or packaged model alias.
        n_threads: threads for decoding.
        parallel: sequences decoded together (slots).
        n_ctx: KV cache cells per slot (prompt + generation of one request); the cache holds
            ``n_ctx * (parallel + 1)`` cells, the shared prefix's stream included.
        n_batch: tokens per ``llama_decode`` call (prompt chunks and generated tokens).
        constrained: enforce output grammars.
        flash_attn: llama.cpp's flash attention; off by default because on the CPU it was
            slower here (gen-only steps 78 against 66 ms, same requests, Q4_0, 2 threads).
    """

    name = "llamacpp-batch"

    def __init__(self, model: str, n_threads: int = 1, parallel: int = 16, n_ctx: int = 2048, n_batch: int = 512,
                 constrained: bool = True, flash_attn: bool = False) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise DatasetToolsError(
                "the llamacpp-batch engine needs llama-cpp-python: pip install 'llama-cpp-python==0.3.36'"
            ) from None
        if parallel < 1:
            raise DatasetToolsError(f"parallel must be >= 1, got {parallel}")
        self.model_path: Path = resolve_gguf(model)
        super().__init__(model_id=self.model_path.stem, constrained=constrained)
        self._l = llama_cpp
        self.n_threads, self.parallel, self.n_batch = n_threads, parallel, n_batch
        self.n_ctx = n_ctx * (parallel + 1)  # one stream of n_ctx cells per slot and one for the prefix
        started = time.perf_counter()
        # The high-level object gives the tokenizer, metadata and chat template; its own context is tiny.
        self._llm: Any = llama_cpp.Llama(model_path=str(self.model_path), n_ctx=256, n_batch=256, n_threads=n_threads,
                                         verbose=False)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = self.n_ctx, n_batch, n_batch
        params.n_seq_max = parallel + 1  # the prefix sequence and the slots
        params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = False
        params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn
                                  else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        self._model = self._llm._model.model
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise DatasetToolsError(f"llama.cpp could not create a context of {self.n_ctx} cells for {parallel} "
                                    "sequences")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._formatter = self._chat_formatter()
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._token_dtype = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
        logger.info("loaded %s in %.1f s (%d thread(s), %d parallel sequences, %d KV cells)", self.model_path.name,
                    time.perf_counter() - started, n_threads, parallel, self.n_ctx)

    # ----------------------------------------------------------------- prompts
    def _chat_formatter(self) -> Any:
        from llama_cpp import llama_chat_format

        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise DatasetToolsError(f"{self.model_path.name} has no chat template in its metadata")
        model = self._llm._model
        return llama_chat_format.Jinja2ChatFormatter(
            template=template, eos_token=model.token_get_text(self._llm.token_eos()),
            bos_token=model.token_get_text(self._llm.token_bos()), stop_token_ids=[self._llm.token_eos()])

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The request's prompt as ``create_chat_completion`` tokenises it."""
        formatted = self._formatter(messages=messages)
        add_bos = not getattr(formatted, "added_special", False)
        return self._llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def _grammar(self, request: GenerationRequest) -> Any:
        if not (self.constrained and request.constraint is not None):
            return None
        grammar = self._l.llama_sampler_init_grammar(self._vocab, request.constraint.gbnf.encode("utf-8"), b"root")
        if not grammar:
            raise DatasetToolsError("llama.cpp rejected a request's GBNF grammar")
        return grammar

    def _samplers(self, request: GenerationRequest) -> tuple[Any, Any]:
        """``(chain, grammar)``: a full chain (grammar inside) for temperature > 0, else the grammar alone."""
        if request.temperature <= 0:
            return None, self._grammar(request)
        l = self._l
        chain = l.llama_sampler_chain_init(l.llama_sampler_chain_default_params())
        grammar = self._grammar(request)
        if grammar is not None:
            l.llama_sampler_chain_add(chain, grammar)
        # llama-cpp-python's chain for create_chat_completion's default settings
        for sampler in (l.llama_sampler_init_top_k(40), l.llama_sampler_init_top_p(0.95, 1),
                        l.llama_sampler_init_min_p(0.05, 1), l.llama_sampler_init_temp(request.temperature),
                        l.llama_sampler_init_dist(request.seed)):
            l.llama_sampler_chain_add(chain, sampler)
        return chain, None

    def _sample_greedy(self, row: int, grammar: Any) -> int:
        """Argmax of batch row ``row``'s logits under ``grammar`` (checked first, masked only if needed)."""
        l = self._l
        logits = np.ctypeslib.as_array(l.llama_get_logits_ith(self._ctx, row), shape=(self._n_vocab,))
        token = int(logits.argmax())
        if grammar is None:
            return token
        one = (l.llama_token_data * 1)(l.llama_token_data(token, float(logits[token]), 0.0))
        l.llama_sampler_apply(grammar, ctypes.byref(l.llama_token_data_array(one, 1, -1, False)))
        if not np.isfinite(one[0].logit):  # not allowed here: mask the whole vocabulary
            candidates = np.zeros(self._n_vocab, dtype=self._token_dtype)
            candidates["id"] = np.arange(self._n_vocab)
            candidates["logit"] = logits
            data = candidates.ctypes.data_as(ctypes.POINTER(l.llama_token_data))
            l.llama_sampler_apply(grammar, ctypes.byref(l.llama_token_data_array(data, self._n_vocab, -1, False)))
            token = int(candidates["logit"].argmax())
        l.llama_sampler_accept(grammar, token)
        return token

    def _piece(self, token: int) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        size = self._l.llama_token_to_piece(self._vocab, token, buffer, 64, 0, False)
        if size < 0:
            buffer = ctypes.create_string_buffer(-size)
            size = self._l.llama_token_to_piece(self._vocab, token, buffer, -size, 0, False)
        return buffer.raw[:size]

    # ----------------------------------------------------------------- decoding
    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of ``(token, position, sequence, wants logits)`` entries."""
        batch = self._batch
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i], batch.pos[i] = token, pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        batch.n_tokens = len(entries)
        status = self._l.llama_decode(self._ctx, batch)
        if status != 0:
            raise DatasetToolsError(f"llama_decode failed with status {status} (KV cache of {self.n_ctx} cells full? "
                                    "lower parallel or raise n_ctx)")

    def _decode_prefix(self, prefix: list[int]) -> None:
        for begin in range(0, len(prefix), self.n_batch):
            chunk = prefix[begin: begin + self.n_batch]
            self._decode([(token, begin + i, PREFIX_SEQ, False) for i, token in enumerate(chunk)])

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if self._ctx is None:
            raise RuntimeError("engine is closed")
        if not requests:
            return []
        call_started = time.perf_counter()
        l = self._l
        prompts = [self._prompt_tokens(r.messages) for r in requests]
        prefix = _common_prefix(prompts) if len(prompts) > 1 else []
        prefix = prefix[: max(0, min(len(p) for p in prompts) - 1)] if prompts else []  # each slot decodes >= 1 token
        l.llama_memory_clear(self._memory, True)
        self._decode_prefix(prefix)
        waiting = list(range(len(requests)))
        free = list(range(self.parallel, 0, -1))  # sequence ids of free slots
        active: list[_Slot] = []
        results: list[Generation | None] = [None] * len(requests)
        while waiting or active:
            while waiting and free:  # start requests in free slots
                index, seq = waiting.pop(0), free.pop()
                if prefix:
                    l.llama_memory_seq_cp(self._memory, PREFIX_SEQ, seq, -1, -1)
                chain, grammar = self._samplers(requests[index])
                active.append(_Slot(index, seq, prompts[index][len(prefix):], requests[index].max_tokens, chain,
                                    grammar, pos=len(prefix)))
            entries, owners = [], []  # batch rows and the slot whose logits each carries
            for slot in active:  # one token of every generating slot first: they never wait for prompts
                if slot.fed == len(slot.prompt) and slot.generated:
                    entries.append((slot.generated[-1], slot.pos, slot.seq, True))
                    owners.append(slot)
                    slot.pos += 1
            for slot in active:  # then prompt chunks, as far as the batch has room
                room = self.n_batch - len(entries)
                if slot.fed < len(slot.prompt) and room > 0:
                    chunk = slot.prompt[slot.fed: slot.fed + room]
                    for i, token in enumerate(chunk):
                        last = slot.fed + i == len(slot.prompt) - 1
                        entries.append((token, slot.pos + i, slot.seq, last))
                        if last:
                            owners.append(slot)
                    slot.fed += len(chunk)
                    slot.pos += len(chunk)
            self._decode(entries)
            logit_rows = [i for i, entry in enumerate(entries) if entry[3]]
            for row, slot in zip(logit_rows, owners):
                if slot.sampler is not None:
                    token = l.llama_sampler_sample(slot.sampler, self._ctx, row)
                else:
                    token = self._sample_greedy(row, slot.grammar)
                if l.llama_vocab_is_eog(self._vocab, token):
                    slot.finish_reason = "stop"
                else:
                    slot.generated.append(token)
                    slot.text += self._piece(token)
                    if len(slot.generated) >= slot.max_tokens:
                        slot.finish_reason = "length"
            for slot in [s for s in active if s.finish_reason]:
                active.remove(slot)
                l.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
                if slot.sampler is not None:
                    l.llama_sampler_free(slot.sampler)  # frees the grammar it holds
                elif slot.grammar is not None:
                    l.llama_sampler_free(slot.grammar)
                free.append(slot.seq)
                results[slot.index] = Generation(
                    text=slot.text.decode("utf-8", errors="replace"), prompt_tokens=len(prompts[slot.index]),
                    completion_tokens=len(slot.generated), latency_s=time.perf_counter() - slot.started,
                    finish_reason=slot.finish_reason)
        done = [result for result in results if result is not None]
        self.stats.add(done, time.perf_counter() - call_started)
        return done

    def close(self) -> None:
        if getattr(self, "_ctx", None) is not None:
            self._l.llama_batch_free(self._batch)
            self._l.llama_free(self._ctx)
            self._ctx = None
            self._llm.close()

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "model_path": str(self.model_path), "n_threads": self.n_threads,
                "parallel": self.parallel, "n_ctx": self.n_ctx}


def _common_prefix(sequences: Sequence[Sequence[int]]) -> list[int]:
    """The longest list every sequence starts with."""
    first = sequences[0]
    length = min(len(s) for s in sequences)
    for i in range(length):
        token = first[i]
        if any(s[i] != token for s in sequences[1:]):
            return list(first[:i])
    return list(first[:length])
