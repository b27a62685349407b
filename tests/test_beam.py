"""Issue 27, item 7: beam search never returns an output the model scores below greedy's, by the
model's own length-normalised score (summed log-probability, END included when reached, over the
length with END counted). Scored here by plain teacher forcing (tasks.seq2seq.decode_forward),
not by the decoder's own step, on random inputs and small random models."""

import numpy as np
import pytest

from charrnn.config import ModelConfig
from charrnn.data.pairs import build_tokens, source_batch
from charrnn.tasks import seq2seq
from charrnn.use.decode import beam_search, free_run


def score(params, cfg, tokens, src_ids, out_ids, ended) -> float:
    """The length-normalised log-probability of `out_ids` (+ END if `ended`) for one source."""
    src, lens = source_batch(tokens, [src_ids])
    state, _ = seq2seq.encode(params, cfg, src, lens)
    target = list(out_ids) + ([tokens.end] if ended else [])
    dec_in = np.array([tokens.start] + target[:-1], dtype=np.int64).reshape(-1, 1) if target else None
    if dec_in is None:
        return 0.0
    logits, _ = seq2seq.decode_forward(params, cfg, dec_in, state)
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(logp[np.arange(len(target)), target].sum()) / len(target)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_beam_never_scores_below_greedy(cell):
    tokens = build_tokens([("abcde", "edcba")])
    max_len, worse, checked = 6, [], 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        cfg = ModelConfig(cell=cell, vocab_size=tokens.V, hidden=6, layers=1, dtype="float64")
        params = {k: v * 3 for k, v in seq2seq.init_params(cfg, rng).items()}  # peaked distributions
        sources = [rng.integers(0, tokens.V, rng.integers(1, 6)) for _ in range(6)]
        src, lens = source_batch(tokens, sources)
        cut = []
        greedy = free_run(params, cfg, tokens, src, lens, max_len, capped=cut)
        for i, (s, g) in enumerate(zip(sources, greedy)):
            g_score = score(params, cfg, tokens, s, g, ended=i not in cut)
            for beam in (2, 3, 5):
                capped = []
                b = beam_search(params, cfg, tokens, s, beam, max_len, capped=capped)
                b_score = score(params, cfg, tokens, s, b, ended=not capped)
                checked += 1
                if b_score < g_score - 1e-9:
                    worse.append((seed, i, beam, b, g, b_score, g_score))
    assert checked == 12 * 6 * 3 and worse == []
