"""The task interface: what a task tells the engine, and nothing else.

The engine (engine/loop.py) owns everything a task does not need to know: the run directory and
its lock, the stop rules (--max-steps, --epochs, --time with room for the final evaluation,
--patience), the evaluation cadence, best.npz / latest.npz, metrics.jsonl and its repair on
resume, Ctrl-C / SIGTERM at any point (a second Ctrl-C at once), the NaN guard, clipping, the
learning-rate schedule, the optimizer step, exact resume and the progress hooks.

A task (one module in charrnn/tasks/, registered in TASKS below) supplies only what differs:

    prepare(data, opts...) -> (run, warnings)   how a file becomes a run: model, batches, split
    steps_per_epoch(run)                         batches in one pass over the training data
    train_step(run) -> Step                      the next batch's forward/loss and gradients
    advance(run, step)                           after the update: move to the next batch
    calibrate(run) / final_seconds(run)          what the final evaluation will cost (--time)
    validate(run, whole, progress) -> dict       its metrics; "val_loss" always, in nats per target
    improved(run, metrics) -> bool               whether they beat the best so far (best.npz)
    keep(run, metrics, improved)                 remember them on the run (last and best)
    adopt_best(run, best_meta)                   on resume, the best is what best.npz holds
    arrays(run) / meta(run)                      its part of the checkpoint (schema: engine/schema)
    restore(run, saved) -> warnings              its part of an exact resume
    log_text(run)                                what the log shows at an evaluation (a sample, examples)
    agree(run, reason) -> reason                 many processes: the stop reason the whole group takes
    open_rundir(out, overwrite, resume)          the run folder (many processes: only rank 0 writes)

And what using a trained model means (charrnn.load returns one Model for every task; a verb
the task has not is one clear error):

    kind, verbs, best_metric_name             "language model", the CLI verbs that apply, ...
    param_shapes(cfg), n_params(cfg)          the model's parameters (the checkpoint's param/ arrays)
    checkpoint_shapes(cfg, meta)              the same when they also depend on the metadata (classify: labels)
    info(trained), info_rows(d)               `charrnn info`: the dict (--json) and its table rows
    evaluate(trained, data) / evaluate_file   scores with .to_dict() and .rows()
    predict(trained, lines, ...)              one output per input line (seq2seq: translate)

`progress(done, total)` must be called often during validate (at least every ~0.2 s of work): it
raises to stop the pass when the user presses Ctrl-C.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Step:
    """One training step's result, before the engine clips and applies the gradients."""
    loss: float  # mean nats per target of the batch
    grads: dict  # name -> gradient, the names of run.params
    chars: int  # characters the step read (for chars/s)
    carry: object = None  # what advance() needs (the language model: the state for the next chunk)
    record: dict | None = None  # extra fields for this step's metrics record (seq2seq: teacher_forcing)


class Task:
    """Base class of the task plug-ins; see the module docstring for the contract."""

    name = "?"
    kind = "model"  # what `charrnn info` and the errors call it: "a language model"
    verbs: tuple = ()  # the CLI verbs that work on its checkpoints
    best_metric = "val_loss"  # the metric `compare` and the summary call "best"
    best_metric_name = "validation loss"  # how best.npz was chosen, in words
    param_shapes = staticmethod(lambda cfg: {})
    n_params = staticmethod(lambda cfg: 0)
    predict_options: tuple = ()  # the options its predict takes beyond the lines (classify: top, ...)
    evaluate_page = False  # whether its evaluate scores can be drawn as a page (evaluate --html)

    def checkpoint_shapes(self, cfg, meta: dict) -> dict:
        """The param/ arrays a checkpoint of this task holds: param_shapes(cfg), unless a task's
        shapes also depend on its metadata (classify and tag: the labels, the second stack)."""
        return self.param_shapes(cfg)

    def prepare(self, data_path, train_opts: dict, model_opts: dict, task_opts: dict, resume=None,
                init_from=None, encoding_errors: str = "strict", cache_dir=None):
        raise NotImplementedError

    def steps_per_epoch(self, run) -> int:
        raise NotImplementedError

    def train_step(self, run) -> Step:
        raise NotImplementedError

    def advance(self, run, step: Step) -> None:
        run.chunk, run.step = run.chunk + 1, run.step + 1

    def calibrate(self, run) -> None:
        pass

    def kernel_handover(self, run) -> int:
        """Under --kernels auto, the step from which the fused kernels run (charrnn.nn.kernels.Handover:
        the NumPy cells before it, while numba loads; every task gives handover_step(its parameters,
        the characters of a step)). 0: wait for them before the first step."""
        return 0

    def row_blocks(self, run):
        """The charrnn.nn.rows.RowBlocks its training steps split the streams with, or None (the
        thread setting then goes to the BLAS alone)."""
        return getattr(run, "rows", None)

    def final_seconds(self, run) -> float:
        return 0.0

    def validate(self, run, whole: bool, progress) -> dict:
        raise NotImplementedError

    def improved(self, run, metrics: dict) -> bool:
        return run.best_val_loss is None or metrics["val_loss"] < run.best_val_loss

    def keep(self, run, metrics: dict, improved: bool) -> None:
        run.val_loss = metrics["val_loss"]
        if improved:
            run.best_val_loss = metrics["val_loss"]

    def adopt_best(self, run, best_meta: dict) -> None:
        """On resume: the best so far is what best.npz holds (its metadata)."""
        run.best_val_loss = best_meta["val_loss"]

    def final_needed(self, run, evaluated_now: bool) -> bool:
        """Whether the run's end needs an evaluation beyond the one of its last step."""
        return not evaluated_now

    def arrays(self, run) -> dict:
        return {}

    def meta(self, run) -> dict:
        return {}

    def restore(self, run, saved) -> list[str]:
        return []

    def log_text(self, run):
        return None

    def agree(self, run, reason):
        """The stop reason (or None) every process of the run takes; one process: its own."""
        return reason

    def open_rundir(self, out_dir, overwrite: bool, resume):
        from charrnn.engine.rundir import RunDir

        return RunDir(out_dir, self, overwrite=overwrite, resume_from=resume)


def get_task(name: str) -> Task:
    """The task plug-in called `name` ("lm", "seq2seq", ...)."""
    from charrnn.tasks import TASKS

    return TASKS[name]()


def unavailable(plugin: Task, path, verb: str):
    """The one error of a verb that does not apply to a model (a usage error, exit 2)."""
    from charrnn.errors import UsageError

    return UsageError(f"{path} holds a {plugin.kind}; {verb} does not work on it",
                      hint=f"use charrnn {', '.join(plugin.verbs)} with it")
