"""In-process llama.cpp engine (llama-cpp-python): the CPU default.

llama.cpp has no batched chat API, so a batch is run request by request; consecutive
requests share the prompts' static prefix, which llama-cpp-python keeps in its KV cache
(it reuses the longest common token prefix with the previous prompt). Constraints are
enforced with GBNF grammars.

Threads default to 1: on a busy 2-core machine 2 threads collapse throughput (NOTES.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest
from dataset_tools.hsu.packaged_models import resolve_gguf

logger = logging.getLogger(__name__)


class LlamaCppEngine(Engine):
    """llama.cpp in this process.

    Args:
        model: GGUF path or packaged model alias (``smollm2`` by default in the CLI).
        n_threads: threads for generation and prompt processing.
        n_ctx: context window in tokens (prompts here are < 2k tokens).
        n_batch: prompt-processing batch size.
        constrained: enforce output grammars.
        seed: base sampling seed.
    """

    name = "llamacpp"

    def __init__(
        self,
        model: str,
        n_threads: int = 1,
        n_ctx: int = 4096,
        n_batch: int = 512,
        constrained: bool = True,
        seed: int = 0,
    ) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise DatasetToolsError(
                "the llamacpp engine needs llama-cpp-python: pip install 'llama-cpp-python==0.3.36'"
            ) from None
        self.model_path: Path = resolve_gguf(model)
        super().__init__(model_id=self.model_path.stem, constrained=constrained)
        self._llama_cpp = llama_cpp
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        started = time.perf_counter()
        self._llm: Any = llama_cpp.Llama(
            model_path=str(self.model_path),
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            seed=seed,
            verbose=False,
        )
        self._grammars: dict[str, Any] = {}
        logger.info("loaded %s in %.1f s (%d thread(s))", self.model_path.name, time.perf_counter() - started, n_threads)

    def _grammar(self, gbnf: str) -> Any:
        if gbnf not in self._grammars:
            self._grammars[gbnf] = self._llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[gbnf]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if self._llm is None:
            raise RuntimeError("engine is closed")
        batch_start = time.perf_counter()
        results = []
        for request in requests:
            options: dict[str, Any] = {}
            if self.constrained and request.constraint is not None:
                options["grammar"] = self._grammar(request.constraint.gbnf)
            started = time.perf_counter()
            response = self._llm.create_chat_completion(
                messages=request.messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed,
                **options,
            )
            choice = response["choices"][0]
            usage = response.get("usage") or {}
            results.append(
                Generation(
                    text=choice["message"].get("content") or "",
                    prompt_tokens=int(usage.get("prompt_tokens", 0)),
                    completion_tokens=int(usage.get("completion_tokens", 0)),
                    latency_s=time.perf_counter() - started,
                    finish_reason=choice.get("finish_reason"),
                )
            )
        self.stats.add(results, time.perf_counter() - batch_start)
        return results

    def close(self) -> None:
        if getattr(self, "_llm", None) is not None:
            self._llm.close()
            self._llm = None

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "model_path": str(self.model_path), "n_threads": self.n_threads, "n_ctx": self.n_ctx}
