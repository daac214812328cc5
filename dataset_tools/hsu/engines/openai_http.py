"""OpenAI-compatible HTTP engine: ``vllm serve`` or ``python -m llama_cpp.server``.

A batch is sent as concurrent requests (``concurrency`` at a time): ``vllm serve``
batches them on the GPU, llama.cpp's server queues them. Constraints use each server's
own extension, chosen by ``server_kind``:

- ``llamacpp``: a GBNF ``grammar`` field (llama.cpp's server rejects OpenAI's
  ``json_schema`` response format, NOTES.md);
- ``vllm``: ``structured_outputs: {"regex": ...}`` (vLLM >= 0.10);
- ``vllm-legacy``: ``guided_regex`` (older vLLM);
- ``none``: unconstrained (parsing + retries only).

Only the standard library is used (urllib), so no client package is needed.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest

logger = logging.getLogger(__name__)

SERVER_KINDS = ("llamacpp", "vllm", "vllm-legacy", "none")


class OpenAIHTTPEngine(Engine):
    """Chat completions over HTTP.

    Args:
        model: the served model name (sent as ``model``; part of stage keys).
        base_url: server root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        server_kind: which constraint extension the server understands (see module doc).
        concurrency: requests in flight at once.
        timeout_s: per-request timeout.
        api_key: sent as a bearer token when given.
        constrained: enforce constraints (ignored for ``server_kind='none'``).
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        server_kind: str = "llamacpp",
        concurrency: int = 4,
        timeout_s: float = 600.0,
        api_key: str | None = None,
        constrained: bool = True,
    ) -> None:
        if server_kind not in SERVER_KINDS:
            raise DatasetToolsError(f"unknown server kind {server_kind!r}; choose one of {', '.join(SERVER_KINDS)}")
        super().__init__(model_id=model, constrained=constrained and server_kind != "none")
        self.base_url = base_url.rstrip("/")
        self.server_kind = server_kind
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.api_key = api_key
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="hsu-http")

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        if self.constrained and request.constraint is not None:
            if self.server_kind == "llamacpp":
                body["grammar"] = request.constraint.gbnf
            elif self.server_kind == "vllm":
                body["structured_outputs"] = {"regex": request.constraint.regex}
            elif self.server_kind == "vllm-legacy":
                body["guided_regex"] = request.constraint.regex
        return body

    def _post(self, request: GenerationRequest) -> Generation:
        data = json.dumps(self._body(request)).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        http_request = urllib.request.Request(f"{self.base_url}/chat/completions", data=data, headers=headers)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout_s) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise RuntimeError(f"{self.base_url}/chat/completions answered HTTP {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            raise RuntimeError(f"cannot reach {self.base_url}: {exc.reason}") from None
        choice = payload["choices"][0]
        usage = payload.get("usage") or {}
        return Generation(
            text=(choice.get("message") or {}).get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=time.perf_counter() - started,
            finish_reason=choice.get("finish_reason"),
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        started = time.perf_counter()
        results = list(self._pool.map(self._post, requests))
        self.stats.add(results, time.perf_counter() - started)
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "base_url": self.base_url, "server_kind": self.server_kind, "concurrency": self.concurrency}
