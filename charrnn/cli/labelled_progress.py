"""What `charrnn train --task classify` / `--task tag` shows on stderr: a summary, a progress bar,
one line per evaluation (val loss, accuracy, macro-F1; tag: exact lines) and a few misses
(messages, bars and closing as the seq2seq reporter)."""

from __future__ import annotations

import sys
import time

from charrnn.cli.train_progress import Seq2SeqReporter, printable
from charrnn.nn import kernels


def labelled_best(result) -> str:
    """The `done:` line's figure: the best validation accuracy (best.npz) and its loss."""
    evals = [r for r in result.history if r.get("val_accuracy") is not None]
    if not evals:
        return "-"
    best = max(evals, key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    return f"{best['val_accuracy']:.2%} accuracy, macro-F1 {best['val_macro_f1']:.4f}"


class LabelledReporter(Seq2SeqReporter):
    def summary(self, run, warnings) -> None:
        t, c = run.tcfg, run.cfg
        unit = "label" if run.kind == "classify" else "tag"
        n_params = sum(int(v.size) for v in run.params.values())
        reader = ("bidirectional " if run.lcfg.bidirectional else "") + f"{c.layers} x {c.hidden} {c.cell.upper()}"
        head = f"; {run.lcfg.pool} of the outputs" if run.kind == "classify" else "; every step"
        self._summary(run, warnings, [
            ("lines", f"{run.corpus['path']} ({len(run.train_lines):,} train / {len(run.val_lines):,} val)"),
            ("vocabulary", f"{run.vocab.size} characters, {run.labels.size} {unit}s: "
                           + ", ".join(printable(s) for s in run.labels.names[:12]) + (" ..." if run.labels.size > 12 else "")),
            ("model", f"{reader}{head}, {c.dtype}, {n_params:,} parameters"),
            ("batches", f"{t.batch} lines of similar length; {len(run.epoch_batches()):,} per epoch"),
            ("optimizer", f"{t.optimizer}, lr {t.lr:g}, clip {t.clip:g}"
                          + (", balanced class weights" if run.weights is not None else "")),
            ("kernels", kernels.describe()),
            ("stop", self._stop(t, run.eval_every))])

    def _batches_per_epoch(self, run) -> int:
        return len(run.epoch_batches())

    def _postfix(self, record) -> dict:
        post = {"loss": f"{record['train_loss']:.3f}", "chars/s": f"{record['chars_per_s']:,.0f}"}
        if self.val is not None:
            post["val acc"] = f"{self.val:.1%}"
        return post

    def validating(self, run, done: int, total: int) -> None:
        super(Seq2SeqReporter, self).validating(run, done, total)

    def evaluated(self, run, record, examples) -> None:
        self._close_val_bar()
        self.val = record["val_accuracy"]
        star = " *" if record["val_accuracy"] == run.best_accuracy and record["val_loss"] == run.best_val_loss else ""
        tl = record.get("train_loss")
        unit = "line" if run.kind == "classify" else "char"
        exact = f"  exact lines {record['val_exact_lines']:.2%}" if "val_exact_lines" in record else ""
        self.message(f"step {record['step']:,}  epoch {record['epoch']}  " + (f"train {tl:.4f}  " if tl is not None else "")
                     + f"val {record['val_loss']:.4f} nats/{unit}  accuracy {record['val_accuracy']:.2%}  "
                     f"macro-F1 {record['val_macro_f1']:.4f}{exact} ({record['val_lines']:,} lines){star}"
                     f"  [{time.strftime('%M:%S', time.gmtime(record['elapsed']))}]")
        if not self.quiet and examples:
            for w in examples[:3]:
                if run.kind == "classify":
                    self.message(f"  miss: {printable(w['text'][:60])} -> {w['predicted']} (want {w['true']})")
                else:
                    self.message(f"  miss: {printable(w['text'][:60])} -> {printable(w['predicted'][:60])}")
