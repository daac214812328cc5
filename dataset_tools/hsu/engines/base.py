"""The engine interface every LLM back end implements.

An engine turns a *batch* of chat requests into a batch of generations. The pipeline
calls it once per lockstep step, so engines that batch (vLLM) get real batches and
engines that do not (llama.cpp) simply loop.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field

from dataset_tools.hsu.prompts import OutputConstraint


@dataclass(frozen=True)
class GenerationRequest:
    """One chat completion to run.

    Attributes:
        messages: chat messages (``role``/``content`` dicts), system first.
        max_tokens: cap on generated tokens.
        constraint: output language to enforce where the engine can (and is allowed to).
        temperature: 0 is greedy; retries use a positive temperature so they can differ.
        seed: sampling seed (used when ``temperature > 0``).
    """

    messages: list[dict[str, str]]
    max_tokens: int
    constraint: OutputConstraint | None = None
    temperature: float = 0.0
    seed: int = 0


@dataclass
class Generation:
    """The result of one request.

    Attributes:
        text: generated text.
        prompt_tokens: prompt length in tokens (as the engine counts it).
        completion_tokens: generated tokens.
        latency_s: wall time attributed to this request (a batch engine splits the
            batch's time evenly).
        finish_reason: ``stop`` or ``length`` (hit ``max_tokens``), when known.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None


@dataclass
class EngineStats:
    """Running totals over an engine's lifetime."""

    calls: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    per_call_sizes: list[int] = field(default_factory=list)

    def add(self, generations: Sequence[Generation], seconds: float) -> None:
        self.calls += 1
        self.requests += len(generations)
        self.per_call_sizes.append(len(generations))
        self.prompt_tokens += sum(g.prompt_tokens for g in generations)
        self.completion_tokens += sum(g.completion_tokens for g in generations)
        self.seconds += seconds


class Engine(abc.ABC):
    """A chat LLM back end.

    Attributes:
        name: engine kind (``llamacpp``, ``openai``, ``vllm``); part of stage keys.
        model_id: the model's identity (file name or served model name); part of stage keys.
        constrained: whether requests' constraints are enforced by the engine.
        stats: totals of all ``generate`` calls.
    """

    name: str = "engine"

    def __init__(self, model_id: str, constrained: bool = True) -> None:
        self.model_id = model_id
        self.constrained = constrained
        self.stats = EngineStats()

    @abc.abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Run a batch; results are in request order."""

    def close(self) -> None:
        """Release the model / connections (idempotent)."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, object]:
        """Settings for ``run.json``."""
        return {"engine": self.name, "model": self.model_id, "constrained": self.constrained}
