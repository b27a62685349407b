"""What `charrnn train` shows on stderr: a rich summary before training, a tqdm progress bar, and
one line per evaluation (with a short sample unless --quiet)."""

from __future__ import annotations

import math
import sys
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text
from tqdm import tqdm

from charrnn.nn import kernels
from charrnn.nn.threads import available_cores
from charrnn.tasks import lm as model
from charrnn.tasks.lm import estimate_memory
from charrnn.engine.run import RunState as Run
from charrnn.engine.loop import Reporter


LN2 = math.log(2)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


def human_time(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def printable(s: str) -> str:
    """One log line: newlines, tabs and other control characters escaped, all else (Korean...) as is."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


class ConsoleReporter(Reporter):
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self.bar = None
        self.started = time.monotonic()
        self.val = None
        self.first_step = 0
        self.val_bar = None
        self.last_step = None  # the step of the last evaluation line

    def summary(self, run: Run, warnings: list[str]) -> None:
        cfg, t = run.cfg, run.tcfg
        if not self.quiet:
            table = Table(title="charrnn train", show_header=False, title_justify="left", box=None)
            table.add_column(style="bold")
            table.add_column()
            c = run.corpus
            unit = "characters" if run.vocab.tokens == "chars" else f"tokens ({run.vocab.tokens})"
            rows = [
                ("corpus", f"{c.path} ({human_bytes(c.n_bytes)}, {c.n_chars:,} {unit})"),
                ("vocabulary", f"{run.vocab.size} {unit}"),
                ("train / val", f"{len(run.streams.ids):,} / {len(run.val_streams.ids):,} {unit}"),
                ("model", f"{cfg.layers} x {cfg.hidden} {cfg.cell.upper()}, dropout {cfg.dropout:g}, {cfg.dtype}"),
                ("parameters", f"{model.n_params(cfg):,}"),
                ("est. memory", human_bytes(run.base_bytes + estimate_memory(cfg, t.batch, t.seq_len, t.optimizer,
                                                                       self._split(run))
                                                       + kernels.loading_bytes())),
                ("batches", f"{t.batch} streams x {t.seq_len} {unit.split()[0]}; {run.streams.n_chunks:,} per epoch"),
                ("optimizer", f"{t.optimizer}, lr {t.lr:g}, clip {t.clip:g}"),
                ("kernels", "; ".join(filter(None, [kernels.describe(), self._rows(run)]))),
                ("stop", self._stop_rule(run)),
                ("validation", self._validation(run)),
            ]
            if run.step:
                rows.append(("resuming", f"step {run.step:,}, epoch {run.epoch}, best val "
                             + (f"{run.best_val_loss:.4f}" if run.best_val_loss is not None else "-")))
            for k, v in rows:
                table.add_row(k, Text(v))  # Text: a path like "a[b].txt" is not rich markup
            self.console.print(table)
        for w in warnings:  # one line each, also when stderr is not a terminal (no wrap at 80)
            self.console.print(Text.assemble(("warning: ", "yellow"), w), soft_wrap=True)

    @staticmethod
    def _split(run: Run) -> int:
        """The row blocks a step may run as (auto may choose all the cores), for est. memory."""
        rows = getattr(run, "rows", None)
        return 1 if rows is None else max(rows.n, available_cores() if rows.timed else 1)

    @staticmethod
    def _rows(run: Run) -> str:
        return run.rows.describe() if getattr(run, "rows", None) is not None else ""

    @staticmethod
    def _stop_rule(run: Run) -> str:
        t = run.tcfg
        parts = []
        if t.max_steps is not None:
            parts.append(f"{t.max_steps:,} steps")
        if t.epochs is not None:
            parts.append(f"{t.epochs:g} epochs")
        if t.time_limit is not None:
            parts.append(f"{human_time(t.time_limit)} (h:m:s / m:s) including the final validation")
        if t.patience is not None:
            parts.append(f"{t.patience} evaluations without improvement")
        return ", ".join(parts)

    @staticmethod
    def _validation(run: Run) -> str:
        plan = run.validation
        every = f"every {run.eval_every:,} steps" + ("" if run.tcfg.eval_every is not None else " (sized to the run)")
        if plan is None or not plan.bounded:
            return f"{every} and at the end, on the whole split"
        return (f"{every} on a fixed part ({plan.chars(whole=False):,} of {plan.chars(whole=True):,} characters); "
                "the whole split at the end")

    def _total(self, run: Run):
        """(total, done) for the bar, in steps, for the rule that fires first."""
        t = run.tcfg
        totals = []
        if t.max_steps is not None:
            totals.append(t.max_steps)
        if t.epochs is not None:
            totals.append(math.ceil(t.epochs * run.streams.n_chunks))
        return (min(totals) if totals else None), run.step

    def start(self, run: Run) -> None:
        total, done = self._total(run)
        self.first_step = done
        self.started = time.monotonic()
        self.bar = tqdm(total=total, initial=done, unit="step", file=sys.stderr, dynamic_ncols=True,
                        disable=self.quiet or None, leave=False, smoothing=0.1,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
                        if total else "{n_fmt} steps [{elapsed}{postfix}]")

    def step(self, run: Run, record: dict) -> None:
        if self.bar is None or self.bar.disable:
            return
        self.bar.update(record["step"] - self.bar.n)
        if record["step"] % 5 and record["step"] != 1:
            return
        post = {"epoch": f"{record['epochs']:.2f}", "loss": f"{record['train_loss']:.3f}"}
        if self.val is not None:
            post["val"] = f"{self.val:.3f} ({self.val / LN2:.2f} bpc)"
        post["chars/s"] = f"{record['chars_per_s']:,.0f}"
        if "threads" in record:  # --threads auto: the count in use now
            post["threads"] = record["threads"]
        if run.tcfg.time_limit is not None:
            post["time left"] = human_time(run.tcfg.time_limit - (time.monotonic() - self.started))
        self.bar.set_postfix(post, refresh=False)

    def validating(self, run: Run, done: int, total: int) -> None:
        """A second bar for a validation pass; shown only when the pass takes over 2 s."""
        if self.quiet:
            return
        if self.val_bar is None:
            self.val_bar = tqdm(total=total, unit="char", unit_scale=True, desc="validating", file=sys.stderr,
                                leave=False, delay=2.0, position=1 if self.bar is not None else 0,
                                dynamic_ncols=True, disable=None)
        self.val_bar.update(done - self.val_bar.n)
        if done >= total:
            self._close_val_bar()

    def _close_val_bar(self) -> None:
        if self.val_bar is not None:
            self.val_bar.close()
            self.val_bar = None

    def evaluated(self, run: Run, record: dict, sample: str | None) -> None:
        self._close_val_bar()
        self.val = record["val_loss"]
        star = " *" if record["val_loss"] == record["best_val_loss"] else ""
        tl = record.get("train_loss")
        jamo = record.get("val_char_loss") is not None  # per token, and per original character beside it
        unit = "nats/token" if jamo else "nats/char"
        line = (f"step {record['step']:,}  epoch {record['epochs']:.2f}  "
                + (f"train {tl:.4f}  " if tl is not None else "")
                + (f"val {record['val_loss']:.4f} {unit}" + (f" = {record['val_char_loss']:.4f} nats/char" if jamo else
                   f" ({record['val_bpc']:.3f} bits/char)") + star))
        if record.get("val_whole_loss") is not None and record["step"] == self.last_step:
            line = ""  # this step's line is out already: only the whole split's figure is new
        if record.get("val_whole_loss") is not None:
            line += (f"\n  whole validation split ({record['val_whole_chars']:,} {'tokens' if jamo else 'characters'}): "
                     f"{record['val_whole_loss']:.4f} {unit}"
                     + (f" = {record['val_whole_char_loss']:.4f} nats/char" if jamo else
                        f" ({record['val_whole_bpc']:.3f} bits/char)"))
        self.last_step = record["step"]
        self.message(line.lstrip("\n"))
        if sample and not self.quiet:
            self.message("  sample: " + printable(sample[:160]))

    def message(self, text: str) -> None:
        if self.quiet and not text.startswith(("stopped", "warning:")):  # (warnings even when quiet)
            return
        if self.bar is not None and not self.bar.disable:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        self._close_val_bar()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Seq2SeqReporter(ConsoleReporter):
    """What `charrnn train --task seq2seq` shows on stderr: a summary, a progress bar, one line per
    evaluation with the teacher-forced val loss and the free-running exact match, and a few misses
    (messages and closing as the language model's reporter)."""

    def summary(self, run, warnings) -> None:
        from charrnn.tasks import seq2seq

        t, c = run.tcfg, run.cfg
        self._summary(run, warnings, [
            ("pairs", f"{run.corpus['path']} ({len(run.train_pairs):,} train / {len(run.val_pairs):,} val)"),
            ("vocabulary", f"{run.tokens.V} characters + END, START, PAD"),
            ("model", f"{c.layers} x {c.hidden} {c.cell.upper()} encoder and decoder, {c.dtype}, "
                      f"{seq2seq.n_params(c):,} parameters"),
            ("batches", f"{t.batch} pairs; {run.n_batches:,} per epoch"),
            ("optimizer", f"{t.optimizer}, lr {t.lr:g}, clip {t.clip:g}"),
            ("kernels", kernels.describe()),
            ("teacher forcing", f"{run.scfg.teacher_forcing:g}" + (
                f", falling to 0 over {run.scfg.teacher_forcing_decay:,} steps" if run.scfg.teacher_forcing_decay else "")),
            ("stop", self._stop(t, run.eval_every))])

    def _summary(self, run, warnings, rows) -> None:
        """The summary's rows (not with --quiet), where a resumed run starts, and the warnings."""
        from charrnn.cli.app import warn

        if not self.quiet:
            for k, v in rows:
                print(f"{k:<16}{v}", file=sys.stderr)
            if run.step:
                print(f"{'resuming':<16}step {run.step:,}, epoch {run.epoch}", file=sys.stderr)
        for w in warnings:
            warn(w)

    @staticmethod
    def _stop(t, eval_every: int) -> str:
        parts = [f"{t.max_steps:,} steps" if t.max_steps is not None else "",
                 f"{t.epochs:g} epochs" if t.epochs is not None else "",
                 f"{t.time_limit:g} s" if t.time_limit is not None else "",
                 f"{t.patience} evaluations without improvement" if t.patience is not None else ""]
        return ", ".join(p for p in parts if p) + f"; evaluate every {eval_every:,} steps"

    def _batches_per_epoch(self, run) -> int:
        return run.n_batches

    def _postfix(self, record) -> dict:
        post = {"loss": f"{record['train_loss']:.3f}", "tf": f"{record['teacher_forcing']:.2f}",
                "chars/s": f"{record['chars_per_s']:,.0f}"}
        if self.val is not None:
            post["val exact"] = f"{self.val:.1%}"
        return post

    def start(self, run) -> None:
        from tqdm import tqdm

        t, n = run.tcfg, self._batches_per_epoch(run)
        totals = [v for v in (t.max_steps, None if t.epochs is None else int(t.epochs * n + 0.999)) if v is not None]
        self.bar = tqdm(total=min(totals) if totals else None, initial=run.step, unit="step", file=sys.stderr,
                        dynamic_ncols=True, disable=self.quiet or None, leave=False)

    def step(self, run, record) -> None:
        if self.bar is None or self.bar.disable:
            return
        self.bar.update(record["step"] - self.bar.n)
        if record["step"] % 5 == 0:
            self.bar.set_postfix(self._postfix(record), refresh=False)

    def evaluated(self, run, record, examples) -> None:

        self.val = record["val_exact_match"]
        star = " *" if record["val_exact_match"] == record["best_exact_match"] and \
            record["val_loss"] == record["best_val_loss"] else ""
        tl = record.get("train_loss")
        self.message(f"step {record['step']:,}  epoch {record['epoch']}  " + (f"train {tl:.4f}  " if tl is not None else "")
                     + f"val {record['val_loss']:.4f} nats/char (teacher-forced)  exact match "
                     f"{record['val_exact_match']:.2%}  char errors {record['val_char_error_rate']:.2%} "
                     f"(free-running){star}  [{time.strftime('%M:%S', time.gmtime(record['elapsed']))}]")
        if not self.quiet:
            for s, t, o in examples[:3]:
                self.message(f"  miss: {printable(s)} -> {printable(o)} (want {printable(t)})")
