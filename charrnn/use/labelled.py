"""Using a classify or tag model: scoring lines, `predict` output, and `evaluate` on a labelled file.

    scores     every line's log-probabilities: classify (C,), tag (n_i, C); batched by length
    predict    classify: the top-k labels and probabilities; tag: the tag string (and the --show rendering)
    evaluate   the report of use/metrics.py plus the worst-classified lines (for --html)
    and the verbs of a trained classify or tag model (tasks/classify.py, tasks/tag.py delegate here):
    predict_lines, evaluate_examples / evaluate_labelled_file (LabelledScores), info_dict / info_rows

The model is (params, cfg, how): how = "last" or "mean" (classify) or "steps" (tag), see nn/heads.py.
"""

from __future__ import annotations

import numpy as np

from charrnn.data.labelled import Encoded, Labels, bucket_batches, encode_examples, make_batch
from charrnn.data.vocab import Vocab, describe
from charrnn.errors import VocabError
from charrnn.nn import heads
from charrnn.use import metrics


def scores(params, cfg, how: str, data: Encoded, batch: int = 64, progress=None) -> list[np.ndarray]:
    """Log-probabilities of every line of `data` (float64): classify (C,) each, tag (n_i, C) each.
    progress(done, total) in characters after each batch (it may raise to stop the pass)."""
    out = [None] * len(data)
    done, total = 0, int(data.lengths.sum())
    for rows in bucket_batches(data.lengths, batch):
        b = make_batch(data, rows, dtype=cfg.dtype)
        lp = heads.predict(params, cfg, b.x, b.lens, how)
        for k, i in enumerate(rows):
            out[i] = lp[:b.lens[k], k] if how == "steps" else lp[k]
        done += b.n_chars
        if progress is not None:
            progress(done, total)
    return out


def encode_texts(vocab: Vocab, texts: list[str], source: str = "input") -> Encoded:
    """Ids of each (non-empty) text; a character the model does not know is an error naming the line."""
    ids = []
    for n, t in enumerate(texts, start=1):
        unknown = vocab.unknown(t)
        if unknown:
            raise VocabError(f"{source}, line {n}: {len(unknown)} character(s) the model does not know: "
                             f"{describe(unknown)}", hint="use text made of the characters the model was trained on")
        ids.append(vocab.encode(t).astype(np.int64))
    return Encoded(ids, [0] * len(ids))


# ---------------------------------------------------------------------------------- predict
def predict(params, cfg, how: str, vocab: Vocab, labels: Labels, texts: list[str], top: int = 1,
            source: str = "input") -> list:
    """One result per text: classify [(label, probability)] best first (top of them); tag the tag
    string. An empty text gives [] (classify) or "" (tag)."""
    keep = [i for i, t in enumerate(texts) if t]
    results: list = [[] if how != "steps" else ""] * len(texts)
    if not keep:
        return results
    data = encode_texts(vocab, [texts[i] for i in keep], source)
    for i, lp in zip(keep, scores(params, cfg, how, data)):
        if how == "steps":
            results[i] = "".join(labels.names[j] for j in lp.argmax(axis=1))
        else:
            best = np.argsort(-lp, kind="stable")[:top]
            results[i] = [(labels.names[j], float(np.exp(lp[j]))) for j in best]
    return results


def is_spacing(labels: Labels) -> bool:
    """A boundary tag set ({0, 1}: 1 = a space follows this character), rendered with spaces put back."""
    return set(labels.names) <= {"0", "1"}


def show_tags(text: str, tags: str, labels: Labels) -> str:
    """--show: spacing tags as the text with its spaces put back; other tags as the text with the tags
    on the line under it (one tag character under each text character)."""
    if is_spacing(labels):
        return "".join(c + (" " if t == "1" else "") for c, t in zip(text, tags)).rstrip(" ")
    return f"{text}\n{tags}"


# --------------------------------------------------------------------------------- evaluate
def evaluate(params, cfg, how: str, vocab: Vocab, labels: Labels, examples, worst: int = 20, progress=None) -> dict:
    """The `evaluate` report (metrics.report) for labelled lines, with n, and for tag models
    exact_match and n_lines; `worst` holds the worst-classified lines (lowest probability of the
    truth; tag: most wrong tags, then most nats)."""
    kind = "tag" if how == "steps" else "classify"
    data = encode_examples(vocab, labels, examples, kind)
    lps = scores(params, cfg, how, data, progress=progress)
    C = labels.size
    if kind == "classify":
        y = np.array(data.targets)
        lp = np.stack(lps)  # (N, C)
        pred = lp.argmax(axis=1)
        truth = lp[np.arange(len(y)), y]
        conf = metrics.confusion_matrix(y, pred, C)
        rep = metrics.report(conf, labels.names, float(-truth.mean()), n=len(y))
        order = np.argsort(truth, kind="stable")[:worst]
        rep["worst"] = [{"text": examples[i][0], "true": examples[i][1], "predicted": labels.names[pred[i]],
                         "p_true": float(np.exp(truth[i])), "p_predicted": float(np.exp(lp[i, pred[i]]))}
                        for i in order if pred[i] != y[i]]
        return rep
    y = np.concatenate(data.targets)
    lp = np.concatenate(lps)  # (chars, C)
    pred = lp.argmax(axis=1)
    truth = lp[np.arange(len(y)), y]
    conf = metrics.confusion_matrix(y, pred, C)
    cuts = np.cumsum([len(t) for t in data.targets])[:-1]
    wrong = np.array([int(w.sum()) for w in np.split(pred != y, cuts)])
    line_nats = np.array([float(-t.sum()) for t in np.split(truth, cuts)])
    rep = metrics.report(conf, labels.names, float(-truth.mean()), n=len(y),
                         exact_match=float(np.mean(wrong == 0)), n_lines=len(examples))
    order = np.lexsort((-line_nats, -wrong))[:worst]
    rep["worst"] = [{"text": examples[i][0], "true": examples[i][1],
                     "predicted": "".join(labels.names[j] for j in p), "errors": int(wrong[i])}
                    for i, p in zip(order, (np.split(pred, cuts)[i] for i in order)) if wrong[i]]
    return rep


# ----------------------------------------------------------------- a trained classify or tag model
# (the verbs of tasks/classify.py and tasks/tag.py: `trained` is engine.trained.Trained)
def settings(trained) -> dict:
    return trained.meta.get("labelled") or {}


def labels_of(trained) -> Labels:
    return Labels.from_list(trained.meta["labels"])


def how_of(trained) -> str:
    """The head: "steps" for tag, the pooling ("mean" or "last") for classify."""
    return "steps" if trained.task == "tag" else settings(trained).get("pool", "last")


def predict_lines(trained, lines: list[str], top: int = 1, show: bool = False, as_json: bool = False,
                  source: str = "input") -> list[str]:
    """One printed line per input line: classify `label<TAB>p` (top K: K pairs, tab-separated), tag
    the tag string (show: the text rendered with its tags); as_json: one JSON object each."""
    import json

    labels = labels_of(trained)
    results = predict(trained.params, trained.cfg, how_of(trained), trained.vocab, labels, lines, top, source)
    out = []
    for line, r in zip(lines, results):
        if as_json:
            d = {"text": line}
            if trained.task == "classify":
                d.update(label=r[0][0] if r else None, probability=r[0][1] if r else None,
                         top=[{"label": lab, "probability": p} for lab, p in r])
            else:
                d.update(tags=r, shown=show_tags(line, r, labels))
            out.append(json.dumps(d, ensure_ascii=False))
        elif trained.task == "classify":
            out.append("\t".join(f"{lab}\t{p:.4f}" for lab, p in r))
        else:
            out.append(show_tags(line, r, labels) if show else r)
    return out


class LabelledScores:
    """`evaluate` of a classify or tag model: .to_dict() (the --json object), .rows() (the figures),
    .details() (per-label table, confusion matrix, biggest confusions), .page() (evaluate --html),
    .warnings (lines skipped)."""

    def __init__(self, report: dict, kind: str, warnings: list | None = None):
        self.report, self.kind, self.warnings = report, kind, warnings or []

    def to_dict(self) -> dict:
        return {"task": self.kind, **{k: v for k, v in self.report.items() if k != "worst"}}

    def rows(self) -> list[tuple[str, str]]:
        r, unit = self.report, "line" if self.kind == "classify" else "character"
        rows = [("accuracy", f"{r['accuracy']:.4f} ({r['n']:,} {unit}s)"), ("macro-F1", f"{r['macro_f1']:.4f}"),
                ("loss", f"{r['nats']:.4f} nats/{unit}")]
        if self.kind == "tag":
            rows.append(("exact lines", f"{r['exact_match']:.4f} (every tag right, of {r['n_lines']:,} lines)"))
        return rows

    def details(self) -> str:
        return metrics.format_report(self.report, self.kind, headline=False)

    def page(self, title: str, summary: str) -> str:
        from charrnn.use.labelled_page import labelled_page

        return labelled_page(self.report, self.kind, title, summary)


def evaluate_examples(trained, examples, path="the file", worst: int = 20, progress=None,
                      warnings: list | None = None) -> LabelledScores:
    """Scores of `examples` [(text, label or tags)]; every character and label must be known."""
    from charrnn.data.labelled import check_known
    from charrnn.errors import UsageError

    if not examples:
        raise UsageError(f"{path} holds no lines to evaluate", hint="give at least one labelled line")
    labels = labels_of(trained)
    check_known(trained.vocab, labels, examples, trained.task, path)
    rep = evaluate(trained.params, trained.cfg, how_of(trained), trained.vocab, labels, examples, worst, progress)
    return LabelledScores(rep, trained.task, warnings)


def evaluate_labelled_file(trained, path, strict: bool = False, encoding_errors: str = "strict",
                           progress=None) -> LabelledScores:
    """`evaluate` on a labelled file. Lines with characters the model does not know are skipped (a
    warning says how many; strict: an error), as a language model's evaluate skips such characters.
    progress(phase, done, total): phase "score", in characters."""
    from charrnn.data.labelled import read_labelled

    examples, _ = read_labelled(path, trained.task, skip_bad_lines=None, encoding_errors=encoding_errors)
    warnings = []
    if not strict:
        known = set(trained.vocab.chars)
        kept = [ex for ex in examples if set(ex[0]) <= known]
        if len(kept) < len(examples):
            unknown = sorted({c for t, _ in examples for c in t} - known)
            warnings.append(f"skipped {len(examples) - len(kept):,} of {len(examples):,} line(s) with characters not "
                            f"in the model's vocabulary ({len(unknown)} distinct: {describe(unknown)}); --strict "
                            "makes this an error")
            examples = kept
    score = None if progress is None else (lambda done, total: progress("score", done, total))
    return evaluate_examples(trained, examples, path, progress=score, warnings=warnings)


def info_dict(trained) -> dict:
    """What `charrnn info --json` shows for a classify or tag checkpoint."""
    meta, cfg, s = trained.meta, trained.cfg, settings(trained)
    corpus = meta.get("corpus") or {}
    return {"checkpoint": str(trained.path), "task": trained.task, "cell": cfg.cell, "layers": cfg.layers,
            "hidden": cfg.hidden, "bidirectional": bool(s.get("bidirectional")),
            "pool": how_of(trained) if trained.task == "classify" else None,
            "class_weights": s.get("class_weights"), "vocab_size": cfg.vocab_size, "dtype": cfg.dtype,
            "parameters": sum(int(v.size) for v in trained.params.values()), "vocab": list(trained.vocab.chars),
            "labels": list(meta.get("labels") or []), "step": meta.get("step"), "epoch": meta.get("epoch"),
            "val_loss": meta.get("val_loss"), "val_accuracy": meta.get("val_accuracy"),
            "val_macro_f1": meta.get("val_macro_f1"), "best_val_loss": meta.get("best_val_loss"),
            "best_accuracy": meta.get("best_accuracy"), "corpus": corpus.get("path"),
            "corpus_lines": corpus.get("lines"), "format_version": meta.get("format_version"),
            "charrnn_version": meta.get("charrnn_version"), "created": meta.get("created")}


def info_rows(d: dict) -> list[tuple[str, str]]:
    """The table of `charrnn info` for a classify or tag model."""
    from charrnn.data.vocab import display

    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    unit = "line" if d["task"] == "classify" else "char"
    head = (f"the {d['pool']} of the top outputs -> softmax over the labels" if d["task"] == "classify"
            else "every step's top output -> softmax over the tags")
    return [("task", f"{d['task']} ({head})"),
            ("model", ("bidirectional " if d["bidirectional"] else "") + f"{d['cell'].upper()}, {d['layers']} layer(s) "
                      f"x {d['hidden']} hidden units"),
            ("parameters", f"{d['parameters']:,}"), ("dtype", d["dtype"]),
            ("vocabulary", f"{d['vocab_size']} characters"), ("characters", " ".join(display(c) for c in d["vocab"])),
            ("labels" if d["task"] == "classify" else "tags",
             f"{len(d['labels'])}: " + ", ".join(metrics.shown_label(s) for s in d["labels"])),
            ("class weights", d["class_weights"] or "none"),
            ("step", num(d["step"], ",")), ("epoch", num(d["epoch"], "")),
            ("val loss", num(d["val_loss"], ".4f") + f" nats/{unit}"),
            ("val accuracy", num(d["val_accuracy"], ".2%") + f", macro-F1 {num(d['val_macro_f1'], '.4f')}"),
            ("best", f"{num(d['best_accuracy'], '.2%')} accuracy, {num(d['best_val_loss'], '.4f')} nats/{unit}"),
            ("corpus", f"{d['corpus'] or '-'}" + ("" if d["corpus_lines"] is None else f" ({d['corpus_lines']:,} lines)")),
            ("created", d["created"] or "-")]
