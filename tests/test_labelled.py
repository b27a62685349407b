"""Labelled files (data/labelled.py): parsing with errors naming the line, --skip-bad-lines, the split,
the label vocabulary, padded batches and length buckets."""

import numpy as np
import pytest

from charrnn.data.labelled import (Labels, bucket_batches, check_known, encode_examples, make_batch, parse_labelled,
                                   read_labelled, split_examples)
from charrnn.data.vocab import Vocab
from charrnn.errors import CorpusError, UsageError


def test_classify_lines_and_errors():
    ex, skipped = parse_labelled("Dostoevsky\tRussian\r\n\nSmith\tEnglish\n", "classify", "n.tsv")
    assert ex == [("Dostoevsky", "Russian"), ("Smith", "English")] and skipped == 0
    with pytest.raises(CorpusError, match=r"n.tsv, line 2: has 0 tabs .*text<TAB>label.*'Smith'") as e:
        parse_labelled("a\tb\nSmith\n", "classify", "n.tsv")
    assert "--skip-bad-lines" in e.value.hint
    with pytest.raises(CorpusError, match="line 1: has an empty label"):
        parse_labelled("a\t\n", "classify", "n.tsv")
    with pytest.raises(CorpusError, match="line 3: has 2 tabs"):
        parse_labelled("a\tb\n\na\tb\tc\n", "classify", "n.tsv")
    ex, skipped = parse_labelled("a\tb\nbad\n\tx\nc\td\n", "classify", "n.tsv", skip_bad_lines=True)
    assert ex == [("a", "b"), ("c", "d")] and skipped == 2
    with pytest.raises(CorpusError, match=r"holds no text<TAB>label lines \(1 bad line"):
        parse_labelled("bad\n", "classify", "n.tsv", skip_bad_lines=True)


def test_tag_lengths_must_match():
    ex, _ = parse_labelled("ab cd\t00100\n", "tag")
    assert ex == [("ab cd", "00100")]
    with pytest.raises(CorpusError, match="s.tsv, line 2: has 5 characters of text but 4 tags"):
        parse_labelled("ab\t01\nab cd\t0010\n", "tag", "s.tsv")


def test_read_file_and_split(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("".join(f"line{i}\t{i % 3}\n" for i in range(10)), encoding="utf-8")
    ex, _ = read_labelled(p, "classify")
    train, val = split_examples(ex, 0.2)
    assert val == ex[-2:] and train == ex[:-2]  # the last lines
    with pytest.raises(UsageError, match="2 line.s. are too few"):
        split_examples(ex[:2], 0.9)


def test_labels_vocabulary_and_unknowns():
    ex = [("ab", "y"), ("ba", "x"), ("a", "y")]
    labels = Labels.from_examples(ex, "classify")
    assert labels.to_list() == ["x", "y"] and Labels.from_list(labels.to_list()) == labels
    assert Labels.from_examples([("ab", "01"), ("c", "2")], "tag").to_list() == ["0", "1", "2"]
    with pytest.raises(CorpusError):
        Labels.from_list(["y", "x"])
    vocab = Vocab.from_text("ab")
    with pytest.raises(UsageError, match="1 label.s. the model was not trained on: 'z'"):
        check_known(vocab, labels, [("ab", "z")], "classify", "t.tsv")
    with pytest.raises(UsageError, match="does not know"):
        check_known(vocab, labels, [("abc", "x")], "classify", "t.tsv")


def test_batches_are_padded_time_major():
    ex = [("abc", "001"), ("b", "1")]
    vocab, labels = Vocab.from_text("abc"), Labels.from_examples(ex, "tag")
    b = make_batch(encode_examples(vocab, labels, ex, "tag"), [0, 1])
    assert b.x.tolist() == [[0, 1], [1, 0], [2, 0]] and b.lens.tolist() == [3, 1]
    assert b.y.tolist() == [[0, 1], [0, 0], [1, 0]] and b.mask.tolist() == [[1, 1], [1, 0], [1, 0]]
    assert b.n_chars == 4
    c = make_batch(encode_examples(vocab, Labels(["x", "y"]), [("ab", "y"), ("c", "x")], "classify"), [1, 0])
    assert c.y.tolist() == [0, 1] and c.x.shape == (2, 2)


def test_buckets_cover_every_line_once_and_group_lengths():
    lengths = np.random.default_rng(0).integers(1, 100, size=1000)
    for rng in (None, np.random.default_rng(1)):
        batches = bucket_batches(lengths, 32, rng)
        assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
        padded = sum(len(b) * lengths[b].max() for b in batches)
        assert padded < 1.1 * lengths.sum()  # random batches would pad ~1.9x
    a = bucket_batches(lengths, 32, np.random.default_rng(1))
    b = bucket_batches(lengths, 32, np.random.default_rng(2))
    assert [x.tolist() for x in a] != [x.tolist() for x in b]
