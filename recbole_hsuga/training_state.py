"""Training that survives a stopped process: the trainer's state after every evaluated epoch.

With ``resume_training: true`` the trainer writes, after each validation, everything the
next epoch needs into ``<checkpoint_dir>/training-state-<model>-<dataset>-seed<seed>.pth``:
model and optimizer state, the epoch, the early-stopping counter and best score, the name
of the best-epoch checkpoint, the learning curve and epoch timings, and the RNG states of
``random``, numpy and torch. Started again with the same settings, ``fit`` continues at
the next epoch; a run that had already stopped goes straight to testing. The file is
removed once the run's result file is written.

A run set that needs more CPU hours than one session (the convergence benchmarks) loses
at most the epoch in progress when it is stopped.

Settings are compared before resuming: a state written with other settings is an error
(one line naming the file and the first differing key), never silently continued.
``epochs`` may differ (raising the cap of a stopped run is legitimate), as may the keys
that only say where files go or how much is printed (:data:`NOT_SETTINGS`). A state written
before a key existed counts as having the value in :data:`VALUE_BEFORE_KEY_EXISTED`.

One process at a time: a run holds an exclusive lock on ``<state file>.lock`` while
``fit`` trains it, so a second process started on the same run (two
queue lanes listing it, a queue restarted while the old one still runs) stops with one
line instead of both writing the same state and checkpoint.
"""

from __future__ import annotations

import fcntl
import os
import random
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.errors import InputError

#: config keys that do not change what is trained.
NOT_SETTINGS = frozenset({
    "checkpoint_dir", "data_path", "results_dir", "state", "show_progress", "progress_log_seconds", "torch_num_threads",
    "epochs",
    "resume_training", "save_user_ranks", "device", "gpu_id", "use_gpu", "local_rank", "world_size", "nproc",
    "offset", "ip", "port", "log_wandb", "wandb_project", "save_dataset", "save_dataloaders", "dataset_save_path",
    "dataloaders_save_path", "config_files",
})

#: keys added after training states and result files were first written, with the value
#: every run written before the key existed trained with: such a run matches this value.
VALUE_BEFORE_KEY_EXISTED = {"train_batch_unit": "rows", "softmax_negatives": 0, "softmax_sampling": "uniform",
                            "softmax_popularity_power": 1.0, "softmax_negatives_per": "position",
                            "train_segments_per_user": 1, "lr_scheduler": "constant", "lr_warmup_epochs": 0,
                            "lr_decay_epochs": 50, "lr_min_ratio": 0.01, "lr_plateau_patience": 5,
                            "lr_plateau_factor": 0.5, "dual_view_residual": False}


def state_path(config: Any) -> Path:
    """Where a run's training state lives: one file per model, dataset and seed."""
    name = f"training-state-{config['model']}-{config['dataset']}-seed{config['seed']}.pth"
    return Path(config["checkpoint_dir"]) / name


def settings_of(config: Any) -> dict[str, str]:
    """The config's settings as text, without :data:`NOT_SETTINGS`."""
    values = config.final_config_dict if hasattr(config, "final_config_dict") else dict(config)
    return {key: repr(value) for key, value in sorted(values.items()) if key not in NOT_SETTINGS}


def rng_states() -> dict[str, Any]:
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (a stop during the write leaves the previous state intact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial, pickle_protocol=4)
    os.replace(partial, path)


def lock_path(path: Path) -> Path:
    """The lock file of the run whose training state is ``path``."""
    return path.with_name(path.name + ".lock")


def hold_lock(path: Path) -> IO[str]:
    """Lock the run whose training state is ``path`` for this process; keep the returned file
    open while the run trains, e.g. as a ``with`` block (closing it, or the process ending,
    releases the lock).

    Raises:
        InputError: another process holds the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(lock_path(path), "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise InputError(f"{lock_path(path)}: another process (pid {holder}) is training this run; wait for it or "
                         "stop it, or use another checkpoint_dir") from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def load(path: Path, config: Any, map_location: Any = None) -> dict[str, Any]:
    """Read a state written by this program for ``config``'s settings.

    Raises:
        InputError: the state was written with other settings.
    """
    state = load_recbole_checkpoint(path, map_location)
    saved, current = state["settings"], settings_of(config)
    # Only keys this run has: a model-specific key (dual_view_residual) is absent from other models' configs.
    saved = {**{key: repr(value) for key, value in VALUE_BEFORE_KEY_EXISTED.items() if key in current}, **saved}
    for key in sorted(set(saved) | set(current)):
        if saved.get(key) != current.get(key):
            raise InputError(f"{path}: training state was written with {key}={saved.get(key, '(unset)')}, this run has "
                             f"{key}={current.get(key, '(unset)')}; remove the file to start over, or use another "
                             "checkpoint_dir")
    return state
