"""HSU over many workers with Ray: one task per shard, each with its own stage store, then a merge.

``python -m dataset_tools hsu DATASET --ray [ADDRESS] --ray-workers N ...`` runs what
``--shard i/N`` runs by hand on N machines, as N Ray tasks: task ``i`` processes the users of
shard ``i`` (stable hash, :func:`~dataset_tools.hsu.lockstep.select_users`) into
``<run>-shard<i>of<N>/`` with the same engine and settings, and the driver merges the shard
folders into ``<run>/`` (:func:`~dataset_tools.hsu.store.merge_runs`). Nothing new happens
inside a shard: it is the one-process pipeline, so records, resume and report are the same.

Resources per task: ``--engine llamacpp`` takes ``--n-threads`` CPUs (one worker per CPU
slot), ``--engine vllm`` one GPU (one worker per GPU), ``--engine openai`` one CPU (the server
does the work). A task whose worker dies is retried by Ray (``max_retries``); the retry
resumes from the stages its shard already stored, and so does rerunning the whole command
after the driver itself was stopped.

Without ADDRESS a local Ray instance is started with enough CPUs for the N tasks; with
``auto`` or ``ray://host:port`` the run joins that cluster, whose nodes must see the same
``--data`` folder (a shared file system) and have this package installed.
"""

from __future__ import annotations

import argparse
import copy
import logging
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError

logger = logging.getLogger(__name__)

#: Ray retries of a shard task whose worker process died (each retry resumes its store).
TASK_RETRIES = 2


def shard_run_names(run: str, n_shards: int) -> list[str]:
    """The folder names of the shards of run ``run`` (what ``--shard i/n`` names them)."""
    return [f"{run}-shard{i}of{n_shards}" for i in range(n_shards)]


def task_resources(args: argparse.Namespace) -> dict[str, float]:
    """Ray resources one shard task asks for, by engine."""
    if args.engine == "vllm":
        return {"num_cpus": 1, "num_gpus": 1}
    if args.engine in ("llamacpp", "llamacpp-batch"):
        return {"num_cpus": max(1, int(args.n_threads))}
    return {"num_cpus": 1}


def shard_arguments(args: argparse.Namespace, run: str, shard: int, n_shards: int) -> argparse.Namespace:
    """The one-process arguments of shard ``shard``: the same run settings, its own folder."""
    shard_args = copy.copy(args)
    shard_args.shard = (shard, n_shards)
    shard_args.run = shard_run_names(run, n_shards)[shard]
    shard_args.ray = None
    shard_args.no_progress = True  # n interleaved bars would be unreadable; each shard logs lines
    # Workers may start in another directory: every path they read is made absolute.
    shard_args.data = Path(args.data).resolve()
    for name in ("spec", "users_from"):
        if getattr(args, name, None) is not None:
            setattr(shard_args, name, Path(getattr(args, name)).resolve())
    if args.model and Path(args.model).exists():
        shard_args.model = str(Path(args.model).resolve())
    return shard_args


def _run_shard(shard_args: argparse.Namespace) -> str:
    """Body of one Ray task: the ordinary CLI path for one shard (runs in a Ray worker)."""
    from dataset_tools.hsu.cli import main

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    status = main(shard_args)
    if status != 0:
        raise DatasetToolsError(f"shard {shard_args.run} ended with status {status}")
    return shard_args.run


def start_ray(address: str | None, cpus: int) -> bool:
    """Join the cluster at ``address``, or start a local instance with ``cpus`` CPUs.

    Returns:
        Whether this call connected (False: the process was already connected to Ray, and the
        caller must leave that connection alone).
    """
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=True)
    else:
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=True)
    return True


def run_on_ray(args: argparse.Namespace, run: str) -> dict[str, Any]:
    """Run ``args`` (an ``hsu`` invocation) as ``args.ray_workers`` shard tasks on Ray, then merge.

    Returns:
        ``{"shards": [folder names], "merged": merge counts, "run_dir": merged folder}``.

    Raises:
        DatasetToolsError: a shard that failed after its retries (rerunning resumes it).
    """
    import ray

    n_shards = int(args.ray_workers)
    if n_shards < 1:
        raise DatasetToolsError(f"--ray-workers must be >= 1, got {n_shards}")
    resources = task_resources(args)
    connected = start_ray(None if args.ray == "local" else args.ray, cpus=int(resources["num_cpus"]) * n_shards)
    try:
        return _run_shards_and_merge(args, run, n_shards, resources)
    finally:
        # A caller in the same process (a notebook, the tuner) may start Ray later with its own
        # runtime environment, which an instance left running here would silently replace.
        if connected:
            ray.shutdown()


def _run_shards_and_merge(args: argparse.Namespace, run: str, n_shards: int,
                          resources: dict[str, float]) -> dict[str, Any]:
    import ray

    from dataset_tools.hsu.store import REPORT_FILE, load_trajectories, merge_runs, write_json_atomic
    from dataset_tools.report.summary import build_report

    task = ray.remote(max_retries=TASK_RETRIES, **resources)(_run_shard)
    logger.info("HSU on Ray: %d shard tasks of %s (%s each)", n_shards, run, resources)
    pending = {task.remote(shard_arguments(args, run, i, n_shards)): i for i in range(n_shards)}
    failed = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        shard = pending.pop(done[0])
        try:
            logger.info("shard %s finished", ray.get(done[0]))
        except Exception as error:  # a task that failed after its retries: report, keep the others going
            failed.append(f"{shard_run_names(run, n_shards)[shard]}: {error}")
    if failed:
        raise DatasetToolsError(f"{len(failed)} HSU shard(s) failed (rerun the same command to resume them): "
                                + "; ".join(failed))
    root = Path(args.data) / args.dataset / "hsu"
    shards = shard_run_names(run, n_shards)
    counts = merge_runs([root / name for name in shards], root / run)
    write_json_atomic(root / run / REPORT_FILE, build_report(load_trajectories(root / run)))
    logger.info("merged %d shards into %s: %s", n_shards, root / run, counts)
    return {"shards": shards, "merged": counts, "run_dir": root / run}
