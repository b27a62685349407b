"""What the classify and tag tasks share as plug-ins of the engine (engine/task.py): a labelled file
becomes a run, batches bucketed by length, the training step, validation with accuracy and
macro-F1, and their part of the checkpoint. tasks/classify.py and tasks/tag.py say what differs.

Batches: an epoch visits the training lines in batches of --batch lines of similar length
(`labelled.bucket_batches` with default_rng([seed, epoch])), so a resumed run rebuilds the same
order; dropout draws from the run's generator, which the checkpoint keeps: a resumed run
continues bit for bit.

Validation between steps scores a fixed part of the validation lines (its first lines, up to
PART_CHARS characters); the final evaluation scores them all. best.npz: the highest validation
accuracy, ties broken by the lower loss.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from charrnn.config import ModelConfig, TrainConfig
from charrnn.data.labelled import (Encoded, Labels, bucket_batches, check_known, encode_examples, make_batch,
                                   read_labelled, split_examples)
from charrnn.data.vocab import Vocab
from charrnn.engine.run import (LAYOUT_FIELDS, MODEL_FIELDS, RunState, check_same, open_line_file, resident_bytes,
                               restore_progress)
from charrnn.engine.task import Step, Task
from charrnn.errors import UsageError
from charrnn.nn import heads
from charrnn.nn.bidirectional import param_shapes
from charrnn.nn.kernels import handover_step, warm_up
from charrnn.nn.optim import make_optimizer
from charrnn.nn.workspace import Workspace
from charrnn.options import OPTIONS, check, default
from charrnn.tasks import lm

TASK_KEYS = ("bidirectional", "pool", "class_weights", "skip_bad_lines")  # options beyond the LM's
LM_ONLY = {"seq_len": "--seq-len", "sample_len": "--sample-len", "init_from": "--init-from"}
FIXED = ("bidirectional", "pool")  # a resumed run keeps them (they shape the model)
PART_CHARS = 250_000  # validation characters scored between steps
CALIBRATION_LINES = 8


@dataclass(frozen=True)
class LabelledConfig:
    bidirectional: bool = default("bidirectional")
    pool: str = default("pool")  # classify: mean | last (tag: unused)
    class_weights: str = default("class_weights")  # none | balanced

    def __post_init__(self):
        check("pool", self.pool)
        check("class_weights", self.class_weights)


@dataclass(kw_only=True)
class LabelledRun(RunState):
    lcfg: LabelledConfig
    kind: str  # classify | tag
    vocab: Vocab
    labels: Labels
    train_lines: list
    val_lines: list
    corpus: dict
    data: Encoded | None = None  # the training lines as ids
    weights: np.ndarray | None = None  # (C,) class weights, or None
    val_accuracy: float | None = None
    val_macro_f1: float | None = None
    best_accuracy: float | None = None
    sec_per_char: float | None = None  # measured cost of validation
    ws: Workspace = field(default_factory=Workspace)  # the training steps' scratch arrays
    _batches: tuple = (None, None)  # (epoch, its batches)

    @property
    def how(self) -> str:
        return "steps" if self.kind == "tag" else self.lcfg.pool

    def epoch_batches(self) -> list:
        if self._batches[0] != self.epoch:
            rng = np.random.default_rng([self.tcfg.seed, self.epoch])
            self._batches = (self.epoch, bucket_batches(self.data.lengths, self.tcfg.batch, rng))
        return self._batches[1]

    def val_part(self, whole: bool) -> list:
        if whole:
            return self.val_lines
        n, chars = 0, 0
        while n < len(self.val_lines) and chars < PART_CHARS:
            chars += len(self.val_lines[n][0])
            n += 1
        return self.val_lines[:n]


class LabelledTask(Task):
    name = "?"
    kind = "?"
    verbs = ("predict", "evaluate", "info", "inspect-cells", "compare")
    best_metric = "val_accuracy"
    best_metric_name = "validation accuracy"
    predict_options = ("top", "show", "as_json", "source")
    evaluate_page = True

    def checkpoint_shapes(self, cfg, meta: dict) -> dict:
        from charrnn.errors import CheckpointError

        try:
            n_labels, bidirectional = len(meta["labels"]), bool((meta.get("labelled") or {}).get("bidirectional"))
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"the checkpoint's metadata has no labels ({e})",
                                  hint="the file is damaged or was not written by `charrnn train`") from None
        return param_shapes(cfg, n_labels, bidirectional)

    # ------------------------------------------------------------------ using a trained model
    def info(self, trained) -> dict:
        from charrnn.use.labelled import info_dict

        return info_dict(trained)

    def info_rows(self, d: dict) -> list:
        from charrnn.use.labelled import info_rows

        return info_rows(d)

    def evaluate(self, trained, examples, worst: int = 20, progress=None):
        from charrnn.use.labelled import evaluate_examples

        return evaluate_examples(trained, examples, worst=worst, progress=progress)

    def evaluate_file(self, trained, path, strict=False, streams=1, encoding_errors="strict", progress=None,
                      threads=None):
        from charrnn.nn.threads import AUTO, blas_threads
        from charrnn.use.labelled import evaluate_labelled_file

        if streams != 1:
            raise UsageError(f"--streams does not apply to a {self.kind}",
                             hint="leave --streams out (every line is scored on its own)")
        with blas_threads(1 if threads in (AUTO, None) else threads):
            return evaluate_labelled_file(trained, path, strict, encoding_errors, progress)

    def predict(self, trained, lines, top: int = 1, show: bool = False, as_json: bool = False, source: str = "input"):
        from charrnn.use.labelled import predict_lines

        if show and self.name != "tag":
            raise UsageError("--show applies to tag models", hint="leave --show out")
        if top != 1 and self.name != "classify":
            raise UsageError("--top applies to classify models", hint="leave --top out")
        return predict_lines(trained, lines, top, show, as_json, source)

    # ------------------------------------------------------------------ training

    def prepare(self, data_path, train_opts, model_opts, task_opts=None, resume=None, init_from=None,
                encoding_errors="strict", cache_dir=None):
        from charrnn.engine.trained import load_trained

        if self.name == "tag" and "pool" in (task_opts or {}):
            raise UsageError("--pool does not apply to --task tag", hint="leave --pool out (a tagger reads every step)")
        train_opts, task_opts, lines, corpus, warnings = open_line_file(
            self.name, data_path, lambda path, skip: read_labelled(path, self.name, skip, encoding_errors), "lines",
            train_opts, model_opts, task_opts, init_from, LM_ONLY)
        saved = load_trained(resume, task=self.name) if resume is not None else None
        if saved is None:
            tcfg, lcfg = TrainConfig(**train_opts), LabelledConfig(**task_opts)
            vocab, labels = Vocab.from_text("".join(t for t, _ in lines)), Labels.from_examples(lines, self.name)
            cfg = ModelConfig(vocab_size=vocab.size, **model_opts)
        else:
            from charrnn.use.labelled import labels_of, settings

            tcfg = TrainConfig.from_dict({**saved.meta.get("train", {}), **train_opts})
            check_same(train_opts, TrainConfig.from_dict(saved.meta.get("train", {})).to_dict(), LAYOUT_FIELDS, resume)
            check_same(model_opts, saved.cfg.to_dict(), MODEL_FIELDS, resume)
            check_same(task_opts, settings(saved), FIXED, resume)
            lcfg = LabelledConfig(**{**settings(saved), **task_opts})
            cfg, vocab, labels = saved.cfg, saved.vocab, labels_of(saved)
            check_known(vocab, labels, lines, self.name, data_path)
            if (saved.meta.get("corpus") or {}).get("sha256") not in (None, corpus["sha256"]):
                warnings.append(f"{data_path} differs from the file this run was trained on; continuing on the new file")
        if labels.size < 2:
            raise UsageError(f"{data_path} has only one {'label' if self.name == 'classify' else 'tag'} "
                             f"({labels.names[0]!r}): there is nothing to learn", hint="give lines of two kinds at least")
        train_lines, val_lines = split_examples(lines, tcfg.val_frac)
        rng = np.random.default_rng(tcfg.seed)
        shapes = param_shapes(cfg, labels.size, lcfg.bidirectional)
        params = lm.init_params(cfg, rng, shapes=shapes) if saved is None else {k: v.copy() for k, v in saved.params.items()}
        run = LabelledRun(task=self.name, cfg=cfg, tcfg=tcfg, lcfg=lcfg, kind=self.name, vocab=vocab, labels=labels,
                          train_lines=train_lines, val_lines=val_lines, params=params, corpus=corpus, rng=rng,
                          optimizer=make_optimizer(tcfg.optimizer, momentum=tcfg.momentum), lr=tcfg.lr)
        run.data = encode_examples(vocab, labels, train_lines, self.name)
        if lcfg.class_weights == "balanced":
            ys = np.array(run.data.targets) if self.name == "classify" else np.concatenate(run.data.targets)
            run.weights = heads.balanced_weights(np.bincount(ys, minlength=labels.size)).astype(cfg.dtype)
        if saved is not None:
            self.restore(run, saved)
        warm_up(cfg.cell, cfg.dtype)  # the fused kernels compiled (or loaded) now: their memory is part of the base
        run.base_bytes = resident_bytes()
        return run, warnings

    def restore(self, run: LabelledRun, saved) -> None:
        restore_progress(run, saved, hint="start a new run",
                         extra=(("best_accuracy", "best_accuracy"), ("val_accuracy", "val_accuracy"),
                                ("val_macro_f1", "val_macro_f1")))

    # ------------------------------------------------------------------ training
    def steps_per_epoch(self, run: LabelledRun) -> int:
        return len(run.epoch_batches())

    def kernel_handover(self, run: LabelledRun) -> int:
        chars = sum(len(t) for t, _ in run.train_lines) / max(1, len(run.epoch_batches()))  # a step's, on average
        return handover_step(sum(p.size for p in run.params.values()), round(chars))

    def train_step(self, run: LabelledRun) -> Step:
        if run.chunk >= len(run.epoch_batches()):
            run.epoch, run.chunk = run.epoch + 1, 0
        batch = make_batch(run.data, run.epoch_batches()[run.chunk], run.cfg.dtype)
        drop = run.rng if run.cfg.dropout > 0 else None
        loss, grads = heads.loss_and_grads(run.params, run.cfg, batch, run.how, run.weights, rng=drop, ws=run.ws)
        return Step(loss, grads, batch.n_chars)

    # ------------------------------------------------------------------ evaluation
    def calibrate(self, run: LabelledRun) -> None:
        from charrnn.use.labelled import evaluate

        few = run.val_lines[:CALIBRATION_LINES]
        t0 = time.perf_counter()
        evaluate(run.params, run.cfg, run.how, run.vocab, run.labels, few)
        run.sec_per_char = (time.perf_counter() - t0) / max(1, sum(len(t) for t, _ in few))

    def final_seconds(self, run: LabelledRun) -> float:
        return 0.0 if run.sec_per_char is None else run.sec_per_char * sum(len(t) for t, _ in run.val_lines)

    def validate(self, run: LabelledRun, whole: bool, progress) -> dict:
        from charrnn.use.labelled import evaluate

        lines = run.val_part(whole)
        t0 = time.perf_counter()
        rep = evaluate(run.params, run.cfg, run.how, run.vocab, run.labels, lines, worst=3, progress=progress)
        run.sec_per_char = (time.perf_counter() - t0) / max(1, sum(len(t) for t, _ in lines))
        return {"val_loss": rep["nats"], "val_accuracy": rep["accuracy"], "val_macro_f1": rep["macro_f1"],
                **self.extra_metrics(rep), "val_lines": len(lines), "examples": rep["worst"]}

    def extra_metrics(self, rep: dict) -> dict:
        return {}

    def improved(self, run: LabelledRun, metrics: dict) -> bool:
        acc, val = metrics["val_accuracy"], metrics["val_loss"]
        return run.best_accuracy is None or acc > run.best_accuracy or (
            acc == run.best_accuracy and (run.best_val_loss is None or val < run.best_val_loss))

    def keep(self, run: LabelledRun, metrics: dict, improved: bool) -> None:
        run.val_loss, run.val_accuracy = metrics["val_loss"], metrics["val_accuracy"]
        run.val_macro_f1 = metrics["val_macro_f1"]
        if improved:
            run.best_val_loss, run.best_accuracy = run.val_loss, run.val_accuracy

    def adopt_best(self, run: LabelledRun, best_meta: dict) -> None:
        run.best_val_loss = best_meta["val_loss"]
        if isinstance(best_meta.get("val_accuracy"), (int, float)):
            run.best_accuracy = best_meta["val_accuracy"]

    # ------------------------------------------------------------------ checkpoint
    def meta(self, run: LabelledRun) -> dict:
        return {"labelled": asdict(run.lcfg), "vocab": run.vocab.to_list(), "labels": run.labels.to_list(),
                "val_accuracy": run.val_accuracy, "val_macro_f1": run.val_macro_f1,
                "best_accuracy": run.best_accuracy, "corpus": run.corpus}


def task_options_given(options: dict) -> list[str]:
    """The flags of classify/tag options in `options` (for the error when --task is not one of them)."""
    return [OPTIONS[k].flag for k in options if k in TASK_KEYS and k != "skip_bad_lines"]
