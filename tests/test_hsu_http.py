"""The OpenAI-compatible HTTP engine against a real llama.cpp server (``llama_cpp.server``)
serving the packaged SmolLM2 on a free 127.0.0.1 port, started and stopped by a fixture."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("uvicorn")  # llama-cpp-python[server]

from dataset_tools.hsu import prompts  # noqa: E402
from dataset_tools.hsu.engines import make_engine  # noqa: E402
from dataset_tools.hsu.engines.base import GenerationRequest  # noqa: E402
from dataset_tools.hsu.items import ItemLineTemplate  # noqa: E402
from dataset_tools.hsu.packaged_models import resolve_gguf  # noqa: E402
from dataset_tools.hsu.parsing import parse_selection  # noqa: E402
from dataset_tools.hsu.lockstep import HsuSettings  # noqa: E402
from dataset_tools.hsu.run_folder import run_dataset  # noqa: E402
from dataset_tools.hsu.store import read_jsonl  # noqa: E402

ALIAS = "smollm2-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A llama.cpp server process; yields its base URL, stops it afterwards."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf("smollm2")),
        "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "2048",
    ]
    with log.open("w") as log_handle:
        process = subprocess.Popen(command, stdout=log_handle, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server did not start in 180 s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_http_engine_batch_with_server_side_grammar(server):
    constraint = prompts.selection_constraint(["add", "retain"])
    record = "No.1 title: Ionic hair dryer\nNo.2 title: Argan oil shampoo"
    requests = [
        GenerationRequest(prompts.selection_messages(record, ["Lip makeup"], ["add", "retain"]), 70, constraint),
        GenerationRequest(prompts.selection_messages(record, ["Hair care tools"], ["add", "retain"]), 70, constraint),
    ]
    with make_engine("openai", ALIAS, base_url=server, server_kind="llamacpp", concurrency=2) as engine:
        generations = engine.generate(requests)
        assert engine.stats.requests == 2 and engine.stats.calls == 1
    for generation in generations:
        # the grammar sent in the request body was enforced by the server
        assert re.fullmatch(r"Explanation: [^\n]{8,}\nInstruction: [34]", generation.text), generation.text
        assert parse_selection(generation.text, ["add", "retain"])[0] in {"add", "retain"}
        assert generation.prompt_tokens > 50 and generation.completion_tokens > 0 and generation.latency_s > 0


def test_pipeline_through_the_server(server, tmp_path, write_inter):
    folder = tmp_path / "toy"
    write_inter(folder / "toy.inter", {"u1": ["1", "2", "3", "4", "1", "2"]})
    titles = {"1": "Matte red lipstick", "2": "Lip balm", "3": "Ionic hair dryer", "4": "Argan oil shampoo"}
    (folder / "toy.item_text.jsonl").write_text(
        "".join(json.dumps({"item_id": k, "title": v}) + "\n" for k, v in titles.items()), encoding="utf-8"
    )
    settings = HsuSettings(stage_length=2, item_line=ItemLineTemplate(("No.{order}", "title: {title}")),
                           max_retries=1, max_tokens_interests=110, max_tokens_selection=70)
    with make_engine("openai", ALIAS, base_url=server, server_kind="llamacpp") as engine:
        outcome = run_dataset(tmp_path, "toy", "http", engine, settings, progress=False)
    assert outcome.stats.stages_computed == 2
    trajectory = read_jsonl(tmp_path / "toy" / "hsu" / "http" / "trajectories.jsonl")[0]
    assert trajectory["complete"] and trajectory["engine"] == "openai" and trajectory["model"] == ALIAS
    assert [s["items"] for s in trajectory["stages"]] == [["1", "2"], ["3", "4"]]
    assert trajectory["final_interests"]


def test_unreachable_server_is_a_clear_error():
    with make_engine("openai", ALIAS, base_url=f"http://127.0.0.1:{free_port()}/v1") as engine:
        with pytest.raises(RuntimeError, match="cannot reach http://127.0.0.1"):
            engine.generate([GenerationRequest([{"role": "user", "content": "hi"}], 4)])
