"""dataset_tools.progress: a tqdm bar only on a terminal; plain log lines every N % or minute otherwise."""

from __future__ import annotations

import io
import logging

import numpy as np
from tqdm import tqdm

from dataset_tools.progress import LineProgress, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bar_only_on_a_terminal(caplog) -> None:
    terminal = Terminal()
    bar = progress_bar(10, "work", stream=terminal)
    assert isinstance(bar, tqdm)
    bar.update(10)
    bar.close()
    assert "\r" in terminal.getvalue()
    log_file = io.StringIO()
    with caplog.at_level(logging.INFO, logger="dataset_tools.progress"):
        with progress_bar(10, "work", stream=log_file) as lines:
            assert isinstance(lines, LineProgress)
            lines.update(10)
    assert log_file.getvalue() == ""  # nothing written to the stream itself
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["work: 10/10 it (100%)"]


def test_disabled_shows_nothing(caplog) -> None:
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="dataset_tools.progress"):
        bar = progress_bar(10, "work", enabled=False, stream=stream)
        bar.update(10)
        bar.close()
    assert stream.getvalue() == "" and not caplog.records


def test_a_line_every_ten_percent_no_carriage_returns(caplog) -> None:
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="dataset_tools.progress"):
        bar = LineProgress(1000, "embed (toy)", unit="text", clock=clock)
        for _ in range(250):  # 4 texts a step, 1 s a step
            clock.now += 1
            bar.update(4)
        bar.set_postfix(batches=250)
        bar.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 10  # 10 %, 20 %, ... 100 %: one line each, no extra line at close
    assert messages[0] == "embed (toy): 100/1000 text (10%), 00:25, 4.0 text/s, ~03:45 left"
    assert messages[-1].startswith("embed (toy): 1000/1000 text (100%), 04:10, 4.0 text/s")
    assert not any("\r" in m for m in messages)


def test_a_line_every_minute_when_slow_or_without_total(caplog) -> None:
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="dataset_tools.progress"):
        bar = LineProgress(None, "hsu", unit="user", clock=clock)
        for _ in range(5):
            clock.now += 30
            bar.update(1)
        bar.close()
    messages = [r.getMessage() for r in caplog.records]
    # at 60 s and 120 s, then the final state at close
    assert [m.split(",")[0] for m in messages] == ["hsu: 2 user", "hsu: 4 user", "hsu: 5 user"]


def test_embed_encode_logs_lines_in_a_log_file(caplog, monkeypatch) -> None:
    """embed, not on a terminal: plain progress lines, no bar."""
    from dataset_tools.embed import batch_encode

    class Encoder:
        name = "toy"
        dimension = 2

        def encode_batch(self, texts):
            return np.ones((len(texts), 2), dtype=np.float32)

    monkeypatch.setattr("sys.stderr", io.StringIO())
    with caplog.at_level(logging.INFO, logger="dataset_tools.progress"):
        vectors, _ = batch_encode.encode_texts(Encoder(), [f"text {i}" for i in range(20)], 2, None, True)
    assert vectors.shape == (20, 2)
    messages = [r.getMessage() for r in caplog.records if r.name == "dataset_tools.progress"]
    assert messages and messages[-1].startswith("embed (toy): 20/20 text (100%)")


class Loader(list):
    """A dataloader as RecBole's epoch loop sees it: batches, a length, attributes."""

    shuffle = True


def test_training_epoch_lines_only_on_time_and_loader_unchanged(caplog) -> None:
    from recbole_hsuga.epoch_progress import EpochProgressLines

    clock = Clock()
    log = logging.getLogger("test.epoch")
    batches = EpochProgressLines(Loader(range(10)), epoch_idx=3, seconds=60, log=log, clock=clock)
    assert len(batches) == 10 and batches.shuffle is True  # RecBole's _train_epoch reads both
    seen = []
    with caplog.at_level(logging.INFO, logger="test.epoch"):
        for batch in batches:
            seen.append(batch)
            clock.now += 25.0  # a 250-second epoch: a line after the batches ending at 75 s, 150 s, 225 s
    assert seen == list(range(10))
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(",")[0] for line in lines] == ["Train     3: 3/10 batch (30%)", "Train     3: 6/10 batch (60%)",
                                                       "Train     3: 9/10 batch (90%)"]
    assert "left" in lines[0] and not any("\r" in line for line in lines)


def test_training_epoch_short_epoch_logs_nothing(caplog) -> None:
    from recbole_hsuga.epoch_progress import EpochProgressLines

    clock = Clock()
    with caplog.at_level(logging.INFO, logger="test.epoch"):
        for _ in EpochProgressLines(Loader(range(10)), 0, 60, logging.getLogger("test.epoch"), clock=clock):
            clock.now += 1.0
    assert caplog.records == []  # RecBole's own end-of-epoch line is enough


def test_training_epoch_bar_on_a_terminal_lines_elsewhere() -> None:
    from recbole_hsuga.epoch_progress import EpochProgressLines, epoch_batches

    loader, log = Loader(range(3)), logging.getLogger("test.epoch")
    assert epoch_batches(loader, 0, True, 60, log, stream=Terminal()) == (loader, True)
    wrapped, show = epoch_batches(loader, 0, True, 60, log, stream=io.StringIO())
    assert isinstance(wrapped, EpochProgressLines) and show is False  # never a tqdm bar into a log file
    assert epoch_batches(loader, 0, True, 0, log, stream=io.StringIO()) == (loader, False)


def test_recbole_grad_scaler_warning_is_silenced() -> None:
    """RecBole's trainer makes torch warn about torch.cuda.amp.GradScaler in every epoch; logs stay clean."""
    import warnings

    import recbole_hsuga  # noqa: F401  (applies the compat shims)
    from recbole.trainer.trainer import amp

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        import recbole_hsuga.compat as compat

        compat.silence_recbole_warnings()
        amp.GradScaler(enabled=False)
    assert not [w for w in caught if "GradScaler" in str(w.message)]
