"""Result files -> models: read the run JSON files and group them into models, runs keyed by seed.

A result file is what ``run_recbole_hsuga.py`` writes into ``results/`` and what
``benchmarks/model_comparison.py`` keeps under ``benchmarks/results/raw/compare-<name>-<dataset>/<variant>/``:
``model``, ``dataset``, ``seed``, ``metrics[split][protocol][group][metric]``, ``curve``
(one entry per validated epoch with ``valid_score``), ``valid_metric`` and ``config``.

Two ways to name models:

- a study folder (:func:`collect_study`): each sub-folder is one model, named after the folder
  (``SASRecHSUGA__hsuga_backbone=id_only`` -> ``SASRecHSUGA+hsuga_backbone=id_only``);
- loose files or folders of them (:func:`collect_runs`): a model is the ``model`` field plus the
  settings that differ between that model's runs (``SASRec+epochs=20``), per-run keys
  (seed, checkpoint and result folders) aside.

A seed run more than once for one model counts once: the newest run (``created``) is kept.
Anything malformed raises :class:`~recbole_hsuga.errors.InputError` naming the file and key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from recbole_hsuga.errors import InputError
from recbole_hsuga.training_state import VALUE_BEFORE_KEY_EXISTED

#: config keys that differ between runs of one setting (never part of a model's name).
PER_RUN_KEYS = frozenset({
    "seed", "checkpoint_dir", "results_dir", "data_path", "dataset_save_path", "dataloaders_save_path", "gpu_id",
    "use_gpu", "device", "worker", "state", "show_progress", "progress_log_seconds", "log_wandb", "wandb_project",
    "log_dir", "tensorboard_dir", "save_user_ranks", "resume_training",
})
#: keys every result file must have.
REQUIRED_KEYS = ("model", "dataset", "seed", "metrics")


@dataclass(frozen=True)
class Run:
    """One training run's result file, as far as the report needs it."""

    path: Path
    model: str
    dataset: str
    seed: int
    created: str
    metrics: dict[str, Any]
    curve: tuple[tuple[int, float], ...]
    valid_metric: str
    config: dict[str, Any]

    def value(self, split: str, protocol: str, group: str, metric: str) -> float | None:
        """``metrics[split][protocol][group][metric]``; None when that protocol/group/metric was not measured."""
        protocols = self.metrics.get(split)
        if not isinstance(protocols, dict):
            measured = ", ".join(sorted(self.metrics)) or "none"
            raise InputError(f"{self.path}: no split {split!r} under 'metrics' (has: {measured})")
        raw = protocols.get(protocol, {}).get(group, {}).get(metric) if isinstance(protocols.get(protocol), dict) else None
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise InputError(f"{self.path}: metrics.{split}.{protocol}.{group}.{metric} is {raw!r}, not a number")
        return float(raw)


@dataclass
class Model:
    """One model of a study: its runs keyed by seed, and where they came from."""

    name: str
    runs: dict[int, Run] = field(default_factory=dict)
    repeats_dropped: int = 0

    @property
    def seeds(self) -> list[int]:
        """The model's seeds, ascending."""
        return sorted(self.runs)

    def add(self, run: Run) -> None:
        """Add ``run``; of two runs with one seed the newer (``created``, then file name) stays."""
        old = self.runs.get(run.seed)
        if old is not None:
            self.repeats_dropped += 1
            if (old.created, old.path.name) >= (run.created, run.path.name):
                return
        self.runs[run.seed] = run


@dataclass
class Study:
    """A named set of models compared in one table and two figures."""

    name: str
    models: list[Model]
    sources: list[str] = field(default_factory=list)

    def model(self, name: str) -> Model:
        """The model called ``name``; an :class:`InputError` listing the names otherwise."""
        for model in self.models:
            if model.name == name:
                return model
        raise InputError(f"no model {name!r} in study {self.name!r} (models: {', '.join(m.name for m in self.models)})")

    def valid_metric(self) -> str:
        """The validation metric of the study's runs (the first run's; ``valid_score`` if none says)."""
        for model in self.models:
            for run in model.runs.values():
                if run.valid_metric:
                    return run.valid_metric
        return "valid_score"


def _curve(path: Path, raw: Any) -> tuple[tuple[int, float], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError(f"{path}: 'curve' is a {type(raw).__name__}, not a list of epochs")
    points = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise InputError(f"{path}: curve[{index}] is not an object with 'epoch' and 'valid_score'")
        score = entry.get("valid_score")
        if score is None:
            continue  # an epoch without validation (eval_step > 1)
        epoch = entry.get("epoch", index)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not isinstance(epoch, int):
            raise InputError(f"{path}: curve[{index}] needs an integer 'epoch' and a numeric 'valid_score'")
        points.append((epoch, float(score)))
    return tuple(points)


def load_run(path: str | Path) -> Run:
    """Read one result file; an :class:`InputError` naming the file (and key) if it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a result file holds a JSON object, got a {type(data).__name__}")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise InputError(f"{path}: missing key {key!r} (a result file has {', '.join(REQUIRED_KEYS)})")
    if not isinstance(data["metrics"], dict):
        raise InputError(f"{path}: 'metrics' is not an object metrics[split][protocol][group][metric]")
    if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
        raise InputError(f"{path}: 'seed' is {data['seed']!r}, not an integer")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise InputError(f"{path}: 'config' is not an object")
    # A file written before a key existed ran with the value every run had then; without it, such
    # a run and a newer one with that value would read as two settings of one model.
    config = {**VALUE_BEFORE_KEY_EXISTED, **config}
    return Run(path=path, model=str(data["model"]), dataset=str(data["dataset"]), seed=data["seed"],
               created=str(data.get("created") or ""), metrics=data["metrics"], curve=_curve(path, data.get("curve")),
               valid_metric=str(data.get("valid_metric") or ""), config=config)


def result_files(path: str | Path) -> list[Path]:
    """``path`` itself if it is a file, the ``*.json`` files directly in the folder ``path``, or the
    files a quoted glob pattern (``'raw/SASRec-*.json'``) matches."""
    path = Path(path)
    if not path.exists() and any(char in str(path) for char in "*?["):
        anchor = Path(path.anchor) if path.is_absolute() else Path()
        files = sorted(anchor.glob(str(path.relative_to(anchor)) if path.is_absolute() else str(path)))
        if not files:
            raise InputError(f"{path}: no file matches this pattern")
        return files
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    files = sorted(path.glob("*.json"))
    if not files:
        raise InputError(f"{path}: no result files (*.json) in this folder")
    return files


def variant_name(folder: str) -> str:
    """A raw variant folder's name as the model is called: ``A__k=v__k2=v2`` -> ``A+k=v+k2=v2``."""
    return folder.replace("__", "+")


def _setting(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def group_runs(runs: Iterable[Run]) -> list[Model]:
    """Loose runs -> models: one per ``model`` field and combination of the settings its runs differ in."""
    by_model: dict[str, list[Run]] = {}
    for run in runs:
        by_model.setdefault(run.model, []).append(run)
    datasets = {run.dataset for group in by_model.values() for run in group}
    models: list[Model] = []
    for name, group in by_model.items():
        keys = sorted({key for run in group for key in run.config} - PER_RUN_KEYS)
        differing = [key for key in keys if len({_setting(run.config.get(key)) for run in group}) > 1]
        by_setting: dict[tuple[str, ...], Model] = {}
        for run in sorted(group, key=lambda r: (r.created, r.path.name)):
            setting = tuple(f"{key}={_setting(run.config.get(key))}" for key in differing)
            label = "+".join([name, *setting])
            if len(datasets) > 1:
                label += f" ({run.dataset})"
            by_setting.setdefault(setting + (run.dataset,), Model(label)).add(run)
        models.extend(by_setting.values())
    return models


def parse_labels(specs: Iterable[str]) -> dict[str, str]:
    """``["NAME=LABEL", ...]`` -> ``{NAME: LABEL}``; split at the last ``=`` (model names hold ``k=v``).

    Raises:
        InputError: an item without ``=`` or with an empty side.
    """
    labels = {}
    for spec in specs:
        name, sep, label = spec.rpartition("=")
        if not sep or not name or not label.strip():
            raise InputError(f"--label {spec!r}: expected NAME=LABEL (the label after the last '=')")
        labels[name] = label.strip()
    return labels


def relabel(study: Study, labels: dict[str, str]) -> Study:
    """``study`` with each model named ``labels.get(name, name)``; a label that names no model is an error."""
    names = {model.name for model in study.models}
    unknown = [name for name in labels if name not in names]
    if unknown:
        raise InputError(f"--label {unknown[0]!r}: no such model in study {study.name!r} "
                         f"(models: {', '.join(sorted(names))})")
    models = [Model(labels.get(m.name, m.name), m.runs, m.repeats_dropped) for m in study.models]
    return Study(study.name, models, study.sources)


def collect_runs(paths: Iterable[str | Path], name: str = "runs") -> Study:
    """A study of loose result files (files, or folders of them), grouped by :func:`group_runs`."""
    paths = list(paths)
    runs = [load_run(file) for path in paths for file in result_files(path)]
    return Study(name=name, models=group_runs(runs), sources=[str(path) for path in paths])


def collect_study(folder: str | Path) -> Study:
    """A study folder whose sub-folders are its models (``benchmarks/results/raw/compare-<name>-<dataset>``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such study folder")
    models = []
    for sub in sorted(path for path in folder.iterdir() if path.is_dir()):
        files = sorted(sub.glob("*.json"))
        if not files:
            continue
        model = Model(variant_name(sub.name))
        for file in files:
            model.add(load_run(file))
        models.append(model)
    if not models:
        raise InputError(f"{folder}: no sub-folder with result files (*.json); for loose files use --runs")
    return Study(name=folder.name, models=models, sources=[str(folder)])


def add_models(study: Study, extra: Study) -> Study:
    """``study`` with ``extra``'s models in front (a baseline shared from another run set)."""
    taken = {model.name for model in study.models}
    clash = [model.name for model in extra.models if model.name in taken]
    if clash:
        raise InputError(f"model {clash[0]!r} is both in {', '.join(extra.sources)} and in study {study.name!r}")
    return Study(name=study.name, models=extra.models + study.models, sources=extra.sources + study.sources)
