"""Classification metrics from a confusion matrix: accuracy, per-label precision/recall/F1, macro-F1,
the biggest confusions, and the terminal tables of `charrnn evaluate` for classify and tag models.

    confusion[i, j] = how many items of true label i were predicted j      (rows true, columns predicted)
    precision_j = C[j, j] / sum_i C[i, j]      recall_i = C[i, i] / sum_j C[i, j]
    F1 = 2 P R / (P + R)   (0 when P + R = 0)
    macro-F1 = the mean F1 over the labels that occur as truth or as prediction (as scikit-learn)
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, n: int) -> np.ndarray:
    """(n, n) int64 counts, rows = true labels, columns = predictions."""
    return np.bincount(np.asarray(y_true) * n + np.asarray(y_pred), minlength=n * n).reshape(n, n).astype(np.int64)


def per_label(conf: np.ndarray, labels) -> list[dict]:
    """One dict per label: label, precision, recall, f1, support (true items), predicted."""
    tp = np.diag(conf).astype(np.float64)
    support, predicted = conf.sum(axis=1), conf.sum(axis=0)
    out = []
    for i, name in enumerate(labels):
        p = tp[i] / predicted[i] if predicted[i] else 0.0
        r = tp[i] / support[i] if support[i] else 0.0
        out.append({"label": name, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                    "support": int(support[i]), "predicted": int(predicted[i])})
    return out


def macro_f1(conf: np.ndarray) -> float:
    rows = per_label(conf, range(len(conf)))
    present = [r["f1"] for r in rows if r["support"] or r["predicted"]]
    return float(np.mean(present)) if present else 0.0


def accuracy(conf: np.ndarray) -> float:
    total = conf.sum()
    return float(np.trace(conf) / total) if total else 0.0


def biggest_confusions(conf: np.ndarray, labels, k: int = 5) -> list[dict]:
    """The k largest off-diagonal counts: true, predicted, count, share of the true label's items."""
    off = conf.astype(np.float64).copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:k]
    out = []
    for f in flat:
        i, j = np.unravel_index(f, conf.shape)
        if off[i, j] <= 0:
            break
        out.append({"true": labels[i], "predicted": labels[j], "count": int(conf[i, j]),
                    "share": float(conf[i, j] / conf[i].sum())})
    return out


def report(conf: np.ndarray, labels, nats: float, **extra) -> dict:
    """The `evaluate --json` object: accuracy, macro_f1, per_label, confusion (counts), labels, nats (+ extra)."""
    out = {"accuracy": accuracy(conf), "macro_f1": macro_f1(conf), "per_label": per_label(conf, labels),
           "confusion": conf.tolist(), "labels": list(labels), "nats": nats,
           "biggest_confusions": biggest_confusions(conf, labels)}
    out.update(extra)
    return out


# ---------------------------------------------------------------------------------- terminal
def shown_label(name: str) -> str:
    """A label or tag as printed: spaces and controls made visible."""
    return "".join({" ": "␠", "\n": "\\n", "\t": "\\t"}.get(c, c) for c in name)


def format_report(rep: dict, kind: str, max_matrix: int = 20, headline: bool = True) -> str:
    """The tables `charrnn evaluate` prints for a classify or tag model (headline: the figures first)."""
    labels = [shown_label(s) for s in rep["labels"]]
    unit = "line" if kind == "classify" else "character"
    lines = [] if not headline else [f"accuracy   {rep['accuracy']:.4f}   ({rep['n']:,} {unit}s)" if "n" in rep else
             f"accuracy   {rep['accuracy']:.4f}",
             f"macro-F1   {rep['macro_f1']:.4f}",
             f"loss       {rep['nats']:.4f} nats/{unit}"]
    if headline and kind == "tag" and "exact_match" in rep:
        lines.append(f"exact      {rep['exact_match']:.4f}   (lines whose every tag is right, of {rep['n_lines']:,})")
    w = max(5, max(len(s) for s in labels))
    lines += ["", f"{'label' if kind == 'classify' else 'tag':<{w}}  precision  recall     F1  support"][not headline:]
    for name, r in zip(labels, rep["per_label"]):
        lines.append(f"{name:<{w}}  {r['precision']:9.3f}  {r['recall']:6.3f}  {r['f1']:5.3f}  {r['support']:7,}")
    conf = np.array(rep["confusion"], dtype=np.float64)
    if len(labels) <= max_matrix:
        lines += ["", "confusion matrix (rows: true, columns: predicted; each row's share of its items, %)"]
        cw = max(4, min(7, max(len(s) for s in labels)))  # (long labels are cut in the header)
        lines.append(" " * (w + 2) + " ".join(f"{s[:cw]:>{cw}}" for s in labels))
        for name, row in zip(labels, conf):
            share = row / row.sum() * 100 if row.sum() else row
            lines.append(f"{name:<{w}}  " + " ".join(f"{v:>{cw}.0f}" if v else f"{'.':>{cw}}" for v in share))
    else:
        lines += ["", f"(confusion matrix of {len(labels)} labels: see --json or --html)"]
    if rep["biggest_confusions"]:
        lines += ["", "biggest confusions"]
        for c in rep["biggest_confusions"]:
            lines.append(f"  {shown_label(c['true'])} -> {shown_label(c['predicted'])}: {c['count']:,} "
                         f"({c['share'] * 100:.1f}% of {shown_label(c['true'])})")
    return "\n".join(lines)
