"""The two baselines an RNN classifier must beat, on the same split as `charrnn train --task classify`
(the validation lines are the file's last --val-frac):

    majority           always the most frequent training label
    bag of characters  softmax regression on each line's character frequencies (the order of the
                       characters thrown away), full-batch Adam until the training loss settles

    python data/baselines.py data/packages.tsv [--val-frac 0.1] [--test data/packages-test.tsv] [--json]

Prints accuracy and macro-F1 of both (use/metrics.py, as `charrnn evaluate`) on the validation
lines, and with --test on the lines of a test file too (both trained on the training lines only).
"""

import argparse
import json
import sys

import numpy as np

from charrnn.data.labelled import Labels, read_labelled, split_examples
from charrnn.data.vocab import Vocab
from charrnn.use import metrics


def bag_of_characters(vocab: Vocab, examples) -> np.ndarray:
    """(N, V) character frequencies of each line (characters outside `vocab` dropped)."""
    X = np.zeros((len(examples), vocab.size))
    for i, (text, _) in enumerate(examples):
        X[i] = np.bincount(vocab.known(text).ids.astype(np.int64), minlength=vocab.size) / max(1, len(text))
    return X


def softmax_regression(X, y, C, steps=600, lr=0.05, l2=1e-4):
    """W (D, C) of softmax(X W) fitted by full-batch Adam with an L2 penalty; X has a bias column."""
    W = np.zeros((X.shape[1], C))
    m, v = np.zeros_like(W), np.zeros_like(W)
    for t in range(1, steps + 1):
        z = X @ W
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        g = X.T @ p / len(y) + l2 * W
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        W -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return W


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--val-frac", type=float, default=0.1)
    ap.add_argument("--test", default=None, help="also score the lines of this labelled file")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    examples, _ = read_labelled(args.file, "classify")
    train, val = split_examples(examples, args.val_frac)
    parts = {"val": val}
    if args.test:
        parts["test"] = read_labelled(args.test, "classify")[0]
    labels = Labels.from_examples(examples + parts.get("test", []), "classify")
    vocab = Vocab.from_text("".join(t for t, _ in train))
    y_tr = np.array([labels.index(y) for _, y in train])
    C = labels.size
    major = np.bincount(y_tr, minlength=C).argmax()
    feats = bag_of_characters(vocab, train + [ex for lines in parts.values() for ex in lines])
    mu, sd = feats[:len(train)].mean(axis=0), feats[:len(train)].std(axis=0) + 1e-6  # standardised on training lines
    X = np.c_[(feats - mu) / sd, np.ones(len(feats))]
    W = softmax_regression(X[:len(train)], y_tr, C)
    out = {"train_lines": len(train), "train_accuracy_bag": float(np.mean((X[:len(train)] @ W).argmax(axis=1) == y_tr))}
    start = len(train)
    for part, lines in parts.items():
        y = np.array([labels.index(lab) for _, lab in lines])
        pred = (X[start:start + len(lines)] @ W).argmax(axis=1)
        start += len(lines)
        for name, guess in (("majority", np.full_like(y, major)), ("bag_of_characters", pred)):
            conf = metrics.confusion_matrix(y, guess, C)
            out[f"{part}_{name}"] = {"accuracy": metrics.accuracy(conf), "macro_f1": metrics.macro_f1(conf),
                                     "lines": len(lines)}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{len(train):,} training lines, {C} labels; the validation lines are the last {args.val_frac:g}; "
              f"majority label: {labels.names[major]}")
        for part in parts:
            for name in ("majority", "bag_of_characters"):
                r = out[f"{part}_{name}"]
                print(f"{part:<5} {name.replace('_', ' '):<18} accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
                      f"({r['lines']:,} lines)")
        print(f"(bag of characters on its training lines: accuracy {out['train_accuracy_bag']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
