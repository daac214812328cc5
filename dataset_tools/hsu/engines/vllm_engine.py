"""Offline vLLM engine for GPUs (optional extra: ``pip install vllm``).

One ``LLM.chat`` call per batch, with automatic prefix caching on: every HSU prompt
starts with the same system message and instructions, so the shared prefix is computed
once. Constraints use structured outputs (a regex per output kind; vLLM >= 0.10 names
them ``StructuredOutputsParams``, older versions ``GuidedDecodingParams``).

vLLM compiles each distinct regex once per process, on the CPU; with the xgrammar
back end that takes seconds for these regexes (bounded repeats such as ``{8,160}``),
and vLLM fails a request whose regex takes longer than
``VLLM_REGEX_COMPILATION_TIMEOUT_S`` (5 s) to compile. On a slow or busy CPU raise that
variable, or pass ``structured_outputs_config={"backend": "guidance"}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest

logger = logging.getLogger(__name__)


def _structured_params(vllm_sampling: Any, regex: str) -> dict[str, Any]:
    """``SamplingParams`` keyword arguments that constrain the output to ``regex``."""
    if hasattr(vllm_sampling, "StructuredOutputsParams"):
        return {"structured_outputs": vllm_sampling.StructuredOutputsParams(regex=regex)}
    if hasattr(vllm_sampling, "GuidedDecodingParams"):
        return {"guided_decoding": vllm_sampling.GuidedDecodingParams(regex=regex)}
    raise DatasetToolsError("this vLLM version offers no structured outputs; run with --unconstrained")


class VLLMEngine(Engine):
    """vLLM in this process.

    Args:
        model: a model folder or name vLLM can load (offline: a local folder).
        gpu_memory_utilization: fraction of GPU memory vLLM may take.
        max_model_len: context length (HSU prompts are short).
        dtype: weights dtype (``auto``).
        seed: engine seed.
        constrained: enforce structured outputs.
        llm_options: more ``vllm.LLM`` keyword arguments.
    """

    name = "vllm"

    def __init__(
        self,
        model: str,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int = 4096,
        dtype: str = "auto",
        seed: int = 0,
        constrained: bool = True,
        **llm_options: Any,
    ) -> None:
        try:
            import vllm
            import vllm.sampling_params as vllm_sampling
        except ImportError:
            raise DatasetToolsError("the vllm engine needs vLLM: pip install vllm (GPU machines)") from None
        super().__init__(model_id=model, constrained=constrained)
        self._vllm = vllm
        self._sampling = vllm_sampling
        started = time.perf_counter()
        self._llm: Any = vllm.LLM(
            model=model,
            enable_prefix_caching=True,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            dtype=dtype,
            seed=seed,
            **llm_options,
        )
        logger.info("vLLM loaded %s in %.1f s", model, time.perf_counter() - started)

    def _sampling_params(self, request: GenerationRequest) -> Any:
        options: dict[str, Any] = {}
        if self.constrained and request.constraint is not None:
            options = _structured_params(self._sampling, request.constraint.regex)
        return self._vllm.SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed if request.temperature > 0 else None,
            **options,
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if not requests:
            return []
        started = time.perf_counter()
        # LLM.chat applies the chat template and tokenizes without adding special tokens;
        # generate() on pre-rendered text would add a second BOS for tokenizers that add
        # one (Llama, Mistral, Gemma) on top of the template's own.
        outputs = self._llm.chat(
            [r.messages for r in requests],
            [self._sampling_params(r) for r in requests],
            use_tqdm=False,
            add_generation_prompt=True,
        )
        elapsed = time.perf_counter() - started
        # A request vLLM could not run (e.g. its regex failed to compile or timed out)
        # comes back as finish_reason "error" with empty text; raise instead of letting
        # the pipeline count it as a parse failure and retry into the same error.
        failed = [out.outputs[0].finish_reason for out in outputs if out.outputs[0].finish_reason in ("error", "abort")]
        if failed:
            raise RuntimeError(
                f"vLLM failed {len(failed)} of {len(requests)} requests (finish_reason {failed[0]!r}); "
                "see the vLLM log above (a structured-output regex that did not compile?)"
            )
        # vLLM runs the batch together: each request is charged an equal share of its time.
        share = elapsed / len(requests)
        results = [
            Generation(
                text=out.outputs[0].text,
                prompt_tokens=len(out.prompt_token_ids or []),
                completion_tokens=len(out.outputs[0].token_ids),
                latency_s=share,
                finish_reason=out.outputs[0].finish_reason,
            )
            for out in outputs
        ]
        self.stats.add(results, elapsed)
        return results

    def close(self) -> None:
        self._llm = None
