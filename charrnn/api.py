"""The public Python API, re-exported by `charrnn` (the CLI is built on it):

    import charrnn
    m = charrnn.load("checkpoints/best.npz")              # a trained model (a directory: its best/latest)
    m.sample(200, temperature=0.8, prime="def ", seed=1)  # -> str: the prime, then 200 characters
    m.evaluate(text)                                      # -> EvalResult: nats_per_char, bits_per_char, ...
    m.evaluate_file("big.txt", streams=64)                # the same, on a file of any size (bounded memory)
    m.trace(text)                                         # -> Traces: activations by unit (inspect-cells)
    m.memory(text, init=True)                             # -> Memory: context usage, gradient reach (inspect-memory)
    charrnn.train("corpus.txt", out="runs/a", model="gru", hidden=256, max_steps=2000)

Options are those of the command line (charrnn.options), by their Python names. Nothing here
prints or exits: errors are `charrnn.errors.CharRNNError`s, warnings go to an optional
`warn(message)` callback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

DEFAULT_EPOCHS = 10.0  # the stop rule of a fresh run when none is given
STOP_KEYS = ("max_steps", "epochs", "time", "patience")  # given together: they replace the saved ones


class Model:
    """A trained model read from a checkpoint, of any task: `task`, `cfg`, `vocab`, `params`,
    `meta`, `path`. Every task has the same verbs; one that does not apply to this model's task
    raises one clear UsageError (e.g. `sample` on a seq2seq model)."""

    def __init__(self, trained):
        from charrnn.engine.task import get_task

        self.trained = trained  # the checkpoint as read (charrnn.engine.trained.Trained)
        self.path, self.cfg, self.vocab = trained.path, trained.cfg, trained.vocab
        self.params, self.meta, self.task = trained.params, trained.meta, trained.task
        self._plugin = get_task(trained.task)

    def __repr__(self) -> str:
        c = self.cfg
        return (f"<charrnn.Model {self.path}: {self._plugin.kind}, {c.layers} x {c.hidden} {c.cell}, "
                f"{c.vocab_size} characters>")

    @property
    def tokens(self):
        return self.trained.tokens

    @property
    def best_metric_name(self) -> str:
        return self._plugin.best_metric_name

    def require(self, verb: str) -> None:
        """The clear error (a UsageError) when the CLI verb `verb` does not apply to this model."""
        from charrnn.engine.task import unavailable

        if verb not in self._plugin.verbs:
            raise unavailable(self._plugin, self.path, verb)

    _only = require

    def _hook(self, verb: str, name: str):
        from charrnn.engine.task import unavailable

        hook = getattr(self._plugin, name, None)
        if hook is None or verb not in self._plugin.verbs:
            raise unavailable(self._plugin, self.path, verb)
        return hook

    # ---------------------------------------------------------------- every task
    def info(self) -> dict:
        """What the checkpoint holds, as `charrnn info --json` prints it."""
        return self._plugin.info(self.trained)

    def info_rows(self) -> list[tuple[str, str]]:
        """The rows of `charrnn info`'s table."""
        return self._plugin.info_rows(self.info())

    def evaluate(self, data, **options):
        """Scores on `data`: a language model's text (charrnn.use.evaluate.EvalResult: nats_per_char,
        bits_per_char, perplexity, ...; options strict, streams, progress, threads, hold), or a seq2seq
        model's (source, target) pairs (PairScores: exact_match, char_error_rate, nats_per_char;
        options beam, max_len). Both have .to_dict() and .rows()."""
        return self._hook("evaluate", "evaluate")(self.trained, data, **options)

    def evaluate_file(self, path, strict: bool = False, streams: int = 1, encoding_errors: str = "strict",
                      progress: Callable[[str, int, int], None] | None = None, threads=None, hold=None):
        """`evaluate` on a file: a text of any size in bounded memory (charrnn.use.evaluate_file;
        progress(phase, done, total), phase "read" (bytes) then "score" (characters)), or a pairs
        file for a seq2seq model. `threads`: the BLAS threads, None, a count or 'auto'. `hold`
        (a language model): units held at a value at every step (charrnn.nn.intervene.parse_holds)."""
        return self._hook("evaluate", "evaluate_file")(self.trained, path, strict, streams, encoding_errors,
                                                       progress, threads, **({} if hold is None else {"hold": hold}))

    def predict(self, lines: list[str], **options) -> list[str]:
        """One output per input line: a seq2seq model's translation (options beam, max_len,
        temperature, seed); a classifier's `label<TAB>probability` (options top, as_json), a tagger's
        tags (options show, as_json)."""
        return self._hook("predict", "predict")(self.trained, list(lines), **options)

    def translate(self, sources, beam: int | None = None, max_len: int | None = None, temperature: float = 0.0,
                  seed: int | None = None, capped: list | None = None):
        """seq2seq: outputs for a list of sources (greedy, beam search, or sampled); for one string, its output.
        capped: gets the positions of the outputs cut at the length cap (max_len, no END reached)."""
        if isinstance(sources, str):
            return self.translate([sources], beam, max_len, temperature, seed, capped)[0]
        return self._hook("translate", "predict")(self.trained, list(sources), beam, max_len, temperature, seed,
                                                  capped=capped)

    # ---------------------------------------------------------------- language models
    def generate(self, length: int = 1000, temperature: float = 1.0, prime: str = "", seed: int | None = None,
                 top_k: int | None = None, top_p: float | None = None, skip_unknown: bool = False,
                 warn: Callable[[str], None] | None = None, rng=None, hold=None) -> Iterator[str]:
        """The characters after `prime`, one at a time (the prime itself is not repeated).

        Unknown prime characters are an error, or dropped (warn says so) with `skip_unknown`.
        `hold`: units held at a value at every step (charrnn.nn.intervene.parse_holds)."""
        import numpy as np

        from charrnn.use.sample import check_options, clean_prime, generate

        self._only("sample")
        check_options(temperature, top_k, top_p, length, 1, seed)
        prime = clean_prime(self.vocab, prime, skip_unknown, warn)
        rng = rng if rng is not None else np.random.default_rng(seed)
        return generate(self.params, self.cfg, self.vocab, length, temperature=temperature, top_k=top_k,
                        top_p=top_p, prime=prime, rng=rng, counts=self.meta.get("char_counts"), hold=hold)

    def sample(self, length: int = 1000, temperature: float = 1.0, prime: str = "", seed: int | None = None,
               top_k: int | None = None, top_p: float | None = None, skip_unknown: bool = False) -> str:
        """The prime followed by `length` sampled characters, as `charrnn sample` prints them."""
        from charrnn.use.sample import clean_prime

        self._only("sample")
        kept = clean_prime(self.vocab, prime, skip_unknown)
        return kept + "".join(self.generate(length, temperature, kept, seed, top_k, top_p))

    def trace(self, text: str, warn: Callable[[str], None] | None = None):
        """Every unit's activation after each character of `text` (charrnn.interpret.traces.Traces:
        acts (T, U), `label(u)` and `column(layer, kind, index)`); unknown characters are dropped
        first (warn says so)."""
        from charrnn.interpret.text import known_text
        from charrnn.interpret.traces import run_traces

        self._only("inspect-cells")
        text = known_text(text, self.vocab, warn)
        return run_traces(self.params, self.cfg, self.vocab.encode(text))

    def memory(self, text: str, max_context: int = 1024, max_targets: int = 2000, max_distance: int = 256,
               positions: int = 64, init: bool = False, at: int | None = None,
               warn: Callable[[str], None] | None = None, progress: Callable[[int], None] | None = None):
        """How much context the model uses and how far back its gradient reaches on `text`, as
        `charrnn inspect-memory` measures them (charrnn.interpret.memory.Memory: effective_context,
        gradient_horizon, grad_h_median, loss_at, ... and `init` for the fresh model with init=True);
        `at` (an index into `text`) also gives the saliency of the characters before it."""
        from charrnn.interpret.memory import measure, prepare
        from charrnn.options import check

        self._only("inspect-memory")
        for key, value in (("max_context", max_context), ("max_targets", max_targets),
                           ("max_distance", max_distance), ("positions", positions), ("at", at)):
            check(key, value)
        job = prepare(self.trained, text, max_context, max_targets, max_distance, positions, at, warn)
        seed = self.trained.train_cfg.seed if init else None
        m = measure(self.params, self.cfg, job.ids, job.plan, job.points, seed, progress)
        m.extra.update(skipped=job.skipped, checkpoint=str(self.path))
        return m


def load(path: str | Path | None = None) -> Model:
    """The model in checkpoint `path` (a directory: its best.npz, else latest.npz; None:
    checkpoints/), of any task: one `Model` with the same verbs for every task."""
    from charrnn.engine.trained import load_trained, resolve_checkpoint

    return Model(load_trained(resolve_checkpoint(path), task=None))


def is_seq2seq_run(task: str | None, resume) -> bool:
    """Whether a training run is seq2seq: --task seq2seq, or resuming a seq2seq checkpoint."""
    from pathlib import Path

    from charrnn.use.translate import is_seq2seq

    return task == "seq2seq" or (task is None and resume is not None and Path(resume).is_file()
                                 and is_seq2seq(resume))


def compare(runs) -> "Comparison":
    """Training runs side by side (run directories or checkpoint files): each run's summary, options,
    learning curve and logged samples, and the options that differ (charrnn.use.compare.Comparison;
    `.to_dict()` is what `charrnn compare --json` prints)."""
    from charrnn.use.compare import compare as _compare

    return _compare([Path(r) for r in runs])


def train(corpus: str | Path, out: str | Path = "checkpoints", *, resume=None, init_from=None,
          overwrite: bool = False, encoding_errors: str = "strict", reporter=None, cache_dir=None, threads=None,
          backend: str = "numpy", device: str = "auto", **options):
    """Train on `corpus`; checkpoints and metrics.jsonl go to `out` (returns charrnn.engine.loop.Result).

    `options` are `charrnn train`'s (model="gru", hidden=256, lr=1e-3, max_steps=2000, time="10m" or
    seconds, ...). Only the options given are applied: a resumed run keeps its own settings for
    the rest, a fresh run takes the defaults. Stop rules given replace all the saved ones; a fresh
    run with none stops after 10 epochs. `reporter` (charrnn.engine.loop.Reporter) receives progress.
    task="seq2seq" trains an encoder-decoder on a pairs file (charrnn.tasks.seq2seq_task; also
    teacher_forcing, teacher_forcing_decay, skip_bad_lines); task="classify" or "tag" a classifier
    or tagger on a labelled file (charrnn.tasks.classify, .tag; also bidirectional, pool,
    class_weights, skip_bad_lines). Resuming a checkpoint implies its task.
    Every task runs in the one engine, charrnn.engine.loop.
    `threads`: the BLAS threads, None (as they are), a count or 'auto' (`charrnn train`'s default;
    chosen by timing the steps, see charrnn.nn.threads).
    `backend`: "numpy" (default) or "torch" (PyTorch on `device`, and many processes under torchrun:
    charrnn.tasks.lm_torch); the checkpoints are the same.
    """
    from charrnn.config import MODEL_KEYS, TRAIN_KEYS
    from charrnn.errors import UsageError
    from charrnn.options import OPTIONS, check, check_all, parse_duration
    from charrnn.tasks.seq2seq_task import TASK_KEYS as SEQ2SEQ_KEYS
    from charrnn.tasks.labelled_task import TASK_KEYS as LABELLED_KEYS
    from charrnn.nn.threads import parse_threads
    from charrnn.engine.loop import train as run_training

    unknown = [k for k in options if k not in MODEL_KEYS + TRAIN_KEYS + SEQ2SEQ_KEYS + LABELLED_KEYS]
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(unknown)}",
                         hint="use the names of `charrnn train --help` with '_' for '-', e.g. max_steps=2000")
    if isinstance(options.get("time"), str):
        options["time"] = parse_duration(options["time"])
    check_all(options)
    check("encoding_errors", encoding_errors)

    def field(k):
        return OPTIONS[k].field or k

    model_opts = {field(k): v for k, v in options.items() if k in MODEL_KEYS}
    train_opts = {field(k): v for k, v in options.items() if k in TRAIN_KEYS}
    if any(k in options for k in STOP_KEYS):
        train_opts.update({field(k): options.get(k) for k in STOP_KEYS})
    elif resume is None:
        train_opts["epochs"] = DEFAULT_EPOCHS
    threads = parse_threads(threads) if threads is not None else None
    check("backend", backend)
    task = run_task(options.get("task"), resume)
    lm = "lm"
    if backend == "torch":
        if task != "lm":
            raise UsageError(f"--backend torch trains language models only, not --task {task}",
                             hint=f"leave out --backend ({task} trains on the NumPy backend)")
        from charrnn.tasks.lm_torch import TorchLMTask, require_torch

        require_torch()
        lm = TorchLMTask(device)
    else:
        from charrnn.tasks.lm_torch import under_torchrun

        if under_torchrun():
            raise UsageError("the NumPy backend is single-process: it cannot run under torchrun",
                             hint="add --backend torch, or run charrnn train without torchrun")
        if device != "auto":
            raise UsageError("--device applies to --backend torch", hint="add --backend torch, or leave out --device")
    if task != "lm" and options.get("tokens", "chars") != "chars":
        raise UsageError(f"--tokens jamo works with language models only, not with --task {task}",
                         hint=f"leave out --tokens ({task} reads characters)")
    own = {"seq2seq": SEQ2SEQ_KEYS, "classify": LABELLED_KEYS, "tag": LABELLED_KEYS}.get(task, ())
    given = [k for k in options if k in SEQ2SEQ_KEYS + LABELLED_KEYS and k not in own + ("task",)]
    if given:
        needs = "--task seq2seq" if all(k in SEQ2SEQ_KEYS for k in given) else "--task classify or --task tag"
        raise UsageError(f"{', '.join(OPTIONS[k].flag for k in given)} need(s) {needs}",
                         hint=f"add {needs.split(' or ')[0]}" + (" to train an encoder-decoder on a pairs file"
                                                               if needs == "--task seq2seq" else ""))
    if task != "lm":
        task_opts = {k: v for k, v in options.items() if k in own and k != "task"}
        return run_training(task, corpus, out, train_opts, model_opts, task_opts, resume=resume, init_from=init_from,
                            overwrite=overwrite, encoding_errors=encoding_errors, reporter=reporter, threads=threads)
    return run_training(lm, corpus, out, train_opts, model_opts, resume=resume, init_from=init_from,
                        encoding_errors=encoding_errors, overwrite=overwrite, reporter=reporter,
                        cache_dir=cache_dir, threads=threads)


def run_task(task: str | None, resume) -> str:
    """The task of a training run: --task, or when resuming without it, the checkpoint's own."""
    from pathlib import Path

    if task is not None or resume is None or not Path(resume).is_file():
        return task or "lm"
    from charrnn.engine.checkpoint import load_checkpoint
    from charrnn.errors import CharRNNError

    try:
        return load_checkpoint(resume)[1].get("task", "lm")
    except CharRNNError:
        return "lm"  # the language model's resume reports what is wrong with the file
