"""LLM engines behind one interface (``base.Engine``); ``make_engine`` builds one by name.

Engine modules import their heavy libraries (llama_cpp, vllm) lazily, inside the
constructor, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest

ENGINE_NAMES = ("llamacpp", "llamacpp-batch", "openai", "vllm")

__all__ = ["ENGINE_NAMES", "Engine", "Generation", "GenerationRequest", "make_engine"]


def make_engine(name: str, model: str, **options: Any) -> Engine:
    """Build an engine.

    Args:
        name: ``llamacpp`` (in-process, CPU default), ``llamacpp-batch`` (in-process,
            many sequences per decode step), ``openai`` (OpenAI-compatible HTTP
            server: ``vllm serve`` or ``llama_cpp.server``) or ``vllm`` (offline, GPU).
        model: for ``llamacpp`` a GGUF path or a packaged model alias (see
            ``packaged_models``); for ``openai`` the served model name; for ``vllm`` a
            model folder or name vLLM can load.
        options: engine-specific keyword arguments (see each engine's constructor).
    """
    if name == "llamacpp":
        from dataset_tools.hsu.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(model, **options)
    if name == "llamacpp-batch":
        from dataset_tools.hsu.engines.llamacpp_batch import LlamaCppBatchEngine

        return LlamaCppBatchEngine(model, **options)
    if name == "openai":
        from dataset_tools.hsu.engines.openai_http import OpenAIHTTPEngine

        return OpenAIHTTPEngine(model, **options)
    if name == "vllm":
        from dataset_tools.hsu.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model, **options)
    raise DatasetToolsError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
