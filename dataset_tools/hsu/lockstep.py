"""The staged edit loop (``HsuPipeline``): users advance one stage at a time, in lockstep batches.

Users are sorted by the number of stages they still need (the paper groups users by
number of stages) and cut into batches of ``batch_size``. Within a batch, every step
advances each unfinished user by one stage, and each step issues at most two engine
batches (plus bounded retries):

1. the first call of the stage: a summary (stage 1, or ``oneshot`` mode) or an
   operation selection (stage k >= 2);
2. the execution of the chosen operation for users that did not choose Retain.

Finished stage records are appended to the store (flushed and fsynced) after every step,
so a crash loses at most the step in flight, and a rerun recomputes no stored stage.

Parse failures are retried ``max_retries`` times at ``retry_temperature``; after that a
selection or execution falls back to Retain (previous interests unchanged) and a stage-1
summary falls back to the cleaned raw output as a single interest. Every retry and
fallback is recorded on the stage and counted in the report.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dataset_tools.progress import progress_bar

from dataset_tools import DatasetToolsError
from dataset_tools.hsu import prompts
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest
from dataset_tools.hsu.items import ItemLineTemplate
from dataset_tools.hsu.parsing import OutputParseError, parse_interests, parse_selection
from dataset_tools.hsu.stages import DEFAULT_STAGE_LENGTH, user_stages
from dataset_tools.hsu.store import StageStore, chain_keys, final_interest_text, settings_hash

logger = logging.getLogger(__name__)

#: Raw outputs kept per stage record (for debugging parse failures).
MAX_STORED_OUTPUT_CHARS = 2000


#: Users per lockstep batch for an engine that decodes few sequences at once (llama.cpp in
#: process): short steps, each finished stage stored soon.
CPU_BATCH_USERS = 16
#: ... for llama.cpp decoding many sequences at once (llamacpp-batch): a few times its 16
#: slots, so that a slot that finishes early has the next request waiting ...
BATCHED_CPU_USERS = 64
#: ... and for engines that batch continuously on a GPU (vLLM, in process or served): a step
#: hands them every pending user, in chunks of this many so that the prompts of one step
#: (a few kB each) stay a bounded amount of host memory; vLLM schedules them on the GPU.
GPU_BATCH_USERS = 4096


def default_batch_size(engine: str, server_kind: str | None = None) -> int:
    """Users per lockstep batch when ``--batch-size`` is not given, sized for the engine."""
    if engine == "vllm" or (engine == "openai" and server_kind in ("vllm", "vllm-legacy")):
        return GPU_BATCH_USERS
    if engine == "llamacpp-batch":
        return BATCHED_CPU_USERS
    return CPU_BATCH_USERS


@dataclass(frozen=True)
class HsuSettings:
    """Settings of an HSU run.

    Attributes:
        stage_length: items per stage (paper: 13).
        operations: allowed edit operations (ablations drop one).
        mode: ``staged`` or ``oneshot`` (whole history in one summary prompt).
        item_line: how items are rendered in prompts.
        max_retries: extra attempts after an unparsable output.
        retry_temperature: sampling temperature of retries (first attempts are greedy).
        max_tokens_interests: generation cap for summaries and executions.
        max_tokens_selection: generation cap for selections.
        batch_size: users per lockstep batch.
        seed: base seed for retries.
        max_items: only the most recent training items of a user (``None``: all); like
            ``stage_length`` it acts through the stages' items (not part of the key settings).
    """

    stage_length: int = DEFAULT_STAGE_LENGTH
    operations: tuple[str, ...] = prompts.ALL_OPERATIONS
    mode: str = "staged"
    item_line: ItemLineTemplate = field(default_factory=ItemLineTemplate)
    max_retries: int = 2
    retry_temperature: float = 0.7
    max_tokens_interests: int = 320
    max_tokens_selection: int = 120
    batch_size: int = 16
    seed: int = 0
    max_items: int | None = None

    def key_settings(self, engine: Engine) -> dict[str, Any]:
        """What changes the LLM's inputs or decoding: hashed into every stage key.

        ``stage_length`` is not included: it acts through each stage's items, so stages
        that are identical under two stage lengths are rightly shared.
        """
        return {
            "prompt_version": prompts.PROMPT_VERSION,
            "engine": engine.name,
            "model": engine.model_id,
            "operations": list(self.operations),
            "mode": self.mode,
            "item_line": list(self.item_line.parts),
            "constrained": engine.constrained,
            "max_tokens": [self.max_tokens_interests, self.max_tokens_selection],
        }


@dataclass
class _UserWork:
    """One user's stages, their keys and progress through them."""

    user: str
    stages: list[list[str]]
    keys: list[str]
    next_index: int  # 0-based index of the first stage without a stored record
    interests: list[str]

    @property
    def pending(self) -> int:
        return len(self.stages) - self.next_index


@dataclass
class _CallResult:
    """Outcome of one logical call after retries."""

    parsed: Any = None
    attempts: int = 0
    parse_errors: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    def add(self, generation: Generation) -> None:
        self.attempts += 1
        self.outputs.append(generation.text)
        self.prompt_tokens += generation.prompt_tokens
        self.completion_tokens += generation.completion_tokens
        self.latency_s += generation.latency_s


@dataclass
class RunStats:
    """What one invocation of the pipeline did (resumed work is not counted)."""

    users_selected: int = 0
    users_processed: int = 0
    stages_total: int = 0
    stages_reused: int = 0
    stages_computed: int = 0
    engine_batches: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        wall = max(self.wall_s, 1e-9)
        out["users_per_s"] = self.users_processed / wall if self.users_processed else 0.0
        out["prompt_tokens_per_s"] = self.prompt_tokens / wall
        out["completion_tokens_per_s"] = self.completion_tokens / wall
        return out


def select_users(
    users: Sequence[str],
    users_from: Sequence[str] | None = None,
    shard: tuple[int, int] | None = None,
    limit: int | None = None,
) -> list[str]:
    """Pick the users of a run.

    Args:
        users: all users, in file order.
        users_from: keep only these (in this order); unknown users are an error.
        shard: ``(i, n)``: keep users whose stable hash is ``i`` modulo ``n``.
        limit: keep the first ``limit`` of what remains.
    """
    selected = list(users)
    if users_from is not None:
        known = set(users)
        unknown = [u for u in users_from if u not in known]
        if unknown:
            raise DatasetToolsError(f"{len(unknown)} requested user(s) are not in the dataset, e.g. {unknown[:5]}")
        selected = list(dict.fromkeys(users_from))
    if shard is not None:
        index, count = shard
        selected = [u for u in selected if int(hashlib.sha256(u.encode()).hexdigest()[:8], 16) % count == index]
    if limit is not None:
        selected = selected[:limit]
    return selected


class HsuPipeline:
    """The staged edit loop over one engine and one stage store.

    Args:
        engine: the LLM engine.
        store: the run's stage store.
        settings: run settings.
        item_text: ``{item token: text fields}`` (from ``<ds>.item_text.jsonl``).
        progress: show progress (a bar on a terminal, plain log lines otherwise).
    """

    def __init__(
        self,
        engine: Engine,
        store: StageStore,
        settings: HsuSettings,
        item_text: Mapping[str, Mapping[str, Any]],
        progress: bool = True,
    ) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.item_text = item_text
        self.progress = progress
        self.key_settings = settings.key_settings(engine)
        self.settings_digest = settings_hash(self.key_settings)
        self._interests_constraint = prompts.interests_constraint()
        self._selection_constraint = prompts.selection_constraint(settings.operations)
        self.stats = RunStats()

    # ----------------------------------------------------------------- planning
    def plan(self, sequences: Mapping[str, Sequence[str]], users: Sequence[str]) -> list[_UserWork]:
        """Stages, keys and the resume point of each user."""
        works = []
        for user in users:
            stages = user_stages(sequences[user], self.settings.stage_length, self.settings.mode,
                                 self.settings.max_items)
            keys = chain_keys(user, stages, self.settings_digest)
            done = 0
            while done < len(keys) and keys[done] in self.store:
                done += 1
            interests = list(self.store.get(keys[done - 1])["interests"]) if done else []
            works.append(_UserWork(user, stages, keys, done, interests))
        return works

    def trajectory(self, work: _UserWork) -> dict[str, Any]:
        """The user's trajectory along the current key chain (stored stages only)."""
        stages = []
        for key in work.keys:
            record = self.store.get(key)
            if record is None:
                break
            stages.append({k: v for k, v in record.items() if k not in ("outputs",)})
        final = stages[-1]["interests"] if stages else []
        return {
            "user": work.user,
            "complete": len(stages) == len(work.keys),
            "n_stages": len(work.keys),
            "n_items": sum(len(s) for s in work.stages),
            "stages": stages,
            "final_interests": final,
            "final_interest_text": final_interest_text(final),
            "engine": self.engine.name,
            "model": self.engine.model_id,
            "prompt_version": prompts.PROMPT_VERSION,
            "mode": self.settings.mode,
            "operations": list(self.settings.operations),
        }

    # ----------------------------------------------------------------- running
    def run(self, sequences: Mapping[str, Sequence[str]], users: Sequence[str]) -> list[dict[str, Any]]:
        """Process every pending stage of ``users``; returns their trajectories."""
        started = time.perf_counter()
        self.stats.users_selected = len(users)
        works = self.plan(sequences, users)
        self.stats.stages_total += sum(len(w.stages) for w in works)
        self.stats.stages_reused += sum(w.next_index for w in works)
        todo = sorted((w for w in works if w.pending), key=lambda w: (w.pending, w.next_index, w.user))
        logger.info(
            "%d users, %d stages: %d stored, %d to compute for %d users",
            len(works), self.stats.stages_total, self.stats.stages_reused,
            self.stats.stages_total - self.stats.stages_reused, len(todo),
        )
        bar = progress_bar(len(todo), "hsu", unit="user", enabled=self.progress, dynamic_ncols=True)
        try:
            for begin in range(0, len(todo), self.settings.batch_size):
                batch = todo[begin : begin + self.settings.batch_size]
                active = batch
                while active:
                    self.store.append(self._step(active))
                    finished = [w for w in active if not w.pending]
                    active = [w for w in active if w.pending]
                    self.stats.users_processed += len(finished)
                    bar.update(len(finished))
                    wall = max(time.perf_counter() - started, 1e-9)
                    bar.set_postfix(
                        stages=self.stats.stages_computed,
                        tok_s=f"{(self.stats.prompt_tokens + self.stats.completion_tokens) / wall:.0f}",
                        gen_tok_s=f"{self.stats.completion_tokens / wall:.1f}",
                    )
        finally:
            bar.close()
            self.stats.wall_s += time.perf_counter() - started
        return [self.trajectory(w) for w in works]

    def _step(self, works: Sequence[_UserWork]) -> list[dict[str, Any]]:
        """Advance each user by one stage; returns the finished stage records."""
        records: list[dict[str, Any]] = [{} for _ in works]
        records_ready: list[bool] = [False] * len(works)
        stage_texts = [self.settings.item_line.render_stage(w.stages[w.next_index], self.item_text) for w in works]
        summary_ix = [i for i, w in enumerate(works) if w.next_index == 0 or self.settings.mode == "oneshot"]
        summary_set = set(summary_ix)
        select_ix = [i for i in range(len(works)) if i not in summary_set]

        first_requests = {}
        for i in summary_ix:
            first_requests[i] = GenerationRequest(
                prompts.summary_messages(stage_texts[i], oneshot=self.settings.mode == "oneshot"),
                self.settings.max_tokens_interests,
                self._interests_constraint,
            )
        for i in select_ix:
            first_requests[i] = GenerationRequest(
                prompts.selection_messages(stage_texts[i], works[i].interests, self.settings.operations),
                self.settings.max_tokens_selection,
                self._selection_constraint,
            )
        order = summary_ix + select_ix
        operations = tuple(self.settings.operations)
        first = self._call(
            [first_requests[i] for i in order],
            [parse_interests if i in summary_set else (lambda text: parse_selection(text, operations)) for i in order],
        )
        first_by_ix = dict(zip(order, first))

        execute_ix: list[int] = []
        for i in summary_ix:
            result = first_by_ix[i]
            if result.parsed is not None:
                interests, explanation = result.parsed
                fallback = None
            else:
                interests, explanation, fallback = self._summary_fallback(result), "", "summary"
            records[i] = self._record(works[i], "summary", explanation, interests, fallback, [result])
            records_ready[i] = True
        for i in select_ix:
            result = first_by_ix[i]
            if result.parsed is None:
                records[i] = self._record(works[i], "retain", "", works[i].interests, "selection", [result])
                records_ready[i] = True
            elif result.parsed[0] == "retain":
                records[i] = self._record(works[i], "retain", result.parsed[1], works[i].interests, None, [result])
                records_ready[i] = True
            else:
                execute_ix.append(i)

        if execute_ix:
            exec_requests = [
                GenerationRequest(
                    prompts.execution_messages(
                        first_by_ix[i].parsed[0], stage_texts[i], works[i].interests, first_by_ix[i].parsed[1]
                    ),
                    self.settings.max_tokens_interests,
                    self._interests_constraint,
                )
                for i in execute_ix
            ]
            executed = self._call(exec_requests, [parse_interests] * len(execute_ix))
            for i, result in zip(execute_ix, executed):
                operation, reason = first_by_ix[i].parsed
                if result.parsed is not None:
                    interests, fallback = result.parsed[0], None
                else:
                    interests, fallback = works[i].interests, "execution"
                records[i] = self._record(works[i], operation, reason, interests, fallback, [first_by_ix[i], result])
                records_ready[i] = True

        assert all(records_ready)
        for work, record in zip(works, records):
            work.interests = list(record["interests"])
            work.next_index += 1
        self.stats.stages_computed += len(records)
        return records

    def _call(self, requests: list[GenerationRequest], parsers: list[Callable[[str], Any]]) -> list[_CallResult]:
        """Run requests as engine batches, retrying unparsable outputs up to ``max_retries`` times."""
        results = [_CallResult() for _ in requests]
        pending = list(range(len(requests)))
        for attempt in range(self.settings.max_retries + 1):
            if not pending:
                break
            batch = [
                requests[i]
                if attempt == 0
                else dataclasses.replace(
                    requests[i], temperature=self.settings.retry_temperature, seed=self.settings.seed + attempt
                )
                for i in pending
            ]
            generations = self.engine.generate(batch)
            self.stats.engine_batches += 1
            self.stats.requests += len(batch)
            failed = []
            for i, generation in zip(pending, generations):
                results[i].add(generation)
                self.stats.prompt_tokens += generation.prompt_tokens
                self.stats.completion_tokens += generation.completion_tokens
                try:
                    results[i].parsed = parsers[i](generation.text)
                except OutputParseError as exc:
                    results[i].parse_errors.append(str(exc))
                    failed.append(i)
            pending = failed
        return results

    @staticmethod
    def _summary_fallback(result: _CallResult) -> list[str]:
        """Stage 1 has nothing to retain: keep the last raw output as one interest."""
        text = " ".join((result.outputs[-1] if result.outputs else "").split())
        return [text[: prompts.MAX_INTEREST_CHARS]] if text else []

    def _record(
        self,
        work: _UserWork,
        operation: str,
        explanation: str,
        interests: Sequence[str],
        fallback: str | None,
        calls: Sequence[_CallResult],
    ) -> dict[str, Any]:
        index = work.next_index
        return {
            "key": work.keys[index],
            "prev_key": work.keys[index - 1] if index else None,
            "user": work.user,
            "stage": index + 1,
            "items": work.stages[index],
            "operation": operation,
            "explanation": explanation,
            "interests": list(interests),
            "fallback": fallback,
            "calls": sum(c.attempts for c in calls),
            "retries": sum(max(0, c.attempts - 1) for c in calls),
            "parse_failures": sum(len(c.parse_errors) for c in calls),
            "prompt_tokens": sum(c.prompt_tokens for c in calls),
            "completion_tokens": sum(c.completion_tokens for c in calls),
            "latency_s": round(sum(c.latency_s for c in calls), 4),
            "engine": self.engine.name,
            "model": self.engine.model_id,
            "prompt_version": prompts.PROMPT_VERSION,
            "mode": self.settings.mode,
            "operations": list(self.settings.operations),
            "outputs": [o[:MAX_STORED_OUTPUT_CHARS] for c in calls for o in c.outputs],
            "finished_at": time.time(),
        }
