"""Loss of a trained model on any text: nats/char, bits/char and perplexity.

How a text is scored:
- The model reads the whole text from a zero state, carrying its state from chunk to chunk
  (as the validation pass of training does), and is scored on predicting every character from
  the ones before it. The first character has nothing before it and is not scored, so a text
  of N usable characters gives N - 1 scored characters (`chars`).
- Characters outside the model's vocabulary are dropped from the stream before scoring: the
  model reads the text as if they were not there (the character after a dropped one is
  predicted from the one before it). They are counted in `skipped` and listed in `unknown`.
  With `strict=True` any such character is an error instead.
- `streams=1` (default) reads the text as one stream: exact. `streams=B > 1` cuts the text
  into B equal contiguous parts scored side by side (each from a zero state) - several times
  faster on long files; the B - 1 fresh starts (and the up to B - 1 trailing characters left
  over by the equal cut, which are not scored) change the result slightly.

nats_per_char = total nats / chars; bits_per_char = nats_per_char / ln 2;
perplexity = exp(nats_per_char).

Under jamo tokens (charrnn.data.tokens) `chars` counts the original characters scored (a
syllable once, however many jamo it has) and total nats sums every token's loss, so a syllable's
loss is the sum of its jamo's and nats_per_char compares with a chars model on the same text;
nats_per_token = total nats / tokens scored (`token_count`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from charrnn.tasks import lm as model
from charrnn.data.corpus import Streams
from charrnn.errors import CorpusError, VocabError
from charrnn.options import check
from charrnn.nn.threads import maybe_unit
from charrnn.data.vocab import describe, display
from charrnn.nn.workspace import Workspace

CHUNK = 1024  # time steps per forward pass


@dataclass
class EvalResult:
    nats_per_char: float  # per original character, whatever the tokenization
    bits_per_char: float
    perplexity: float  # per original character
    chars: int  # original characters scored
    skipped: int  # characters (tokens, under jamo) dropped because they are not in the vocabulary
    unknown: list = field(default_factory=list)  # the distinct skipped characters, sorted
    total_nats: float = 0.0
    streams: int = 1
    nats_per_token: float | None = None  # per model step (= nats_per_char under chars)
    tokens: str = "chars"  # chars | jamo (charrnn.data.tokens)
    token_count: int | None = None  # tokens scored (= chars under chars)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["unknown"] = [{"char": c, "display": display(c), "code_point": f"U+{ord(c):04X}"} for c in self.unknown]
        return d

    def rows(self) -> list[tuple[str, str]]:
        """What `charrnn evaluate` prints."""
        skipped = f"{self.skipped:,}" + (f" ({len(self.unknown)} distinct)" if self.skipped else "")
        per_token = [] if self.tokens == "chars" else [
            ("nats/token", f"{self.nats_per_token:.4f} ({self.tokens}: {self.token_count:,} tokens)")]
        return [("nats/char", f"{self.nats_per_char:.4f}"), ("bits/char", f"{self.bits_per_char:.4f}"),
                ("perplexity", f"{self.perplexity:.3f}"), ("chars", f"{self.chars:,}"), *per_token,
                ("skipped", skipped)]


def known_ids(vocab, text: str, strict: bool = False) -> tuple[np.ndarray, int, list[str]]:
    """(ids of the known characters of `text`, number of characters dropped, the distinct unknown ones)."""
    k = vocab.known(text)
    if k.dropped and strict:
        raise VocabError(f"the text has {len(k.unknown)} character(s) not in the model's vocabulary: "
                         f"{describe(k.unknown)}",
                         hint="leave out --strict to skip them (they are then counted and reported)")
    return k.ids, k.dropped, k.unknown


def score_ids(params, cfg, ids: np.ndarray, streams: int = 1, chunk: int = CHUNK, progress=None,
              tuner=None, hold=None) -> tuple[float, int]:
    """(total nats, characters scored) of predicting ids[1:] from the ids before, state carried."""
    check("streams", streams)
    n = len(ids) - 1
    if n < 1:
        return 0.0, 0
    return stream_loss(params, cfg, Streams(np.asarray(ids), max(1, min(streams, n)), chunk), progress=progress,
                       tuner=tuner, hold=hold)


def stream_loss(params, cfg, streams: Streams, remap=None, progress=None, ws: Workspace | None = None,
                tuner=None, hold=None) -> tuple[float, int]:
    """(total nats, tokens scored): `stream_scores` without the character count."""
    total, count, _ = stream_scores(params, cfg, streams, remap, progress, ws, tuner, hold=hold)
    return total, count


def stream_scores(params, cfg, streams: Streams, remap=None, progress=None, ws: Workspace | None = None,
                  tuner=None, chars_in=None, hold=None) -> tuple[float, int, int]:
    """(total nats, characters scored) over every chunk of `streams` once, the state carried from
    chunk to chunk; remap (optional) maps the corpus's ids to the model's; progress(done, total)
    (optional) is called after each chunk with characters read so far and in all. The scratch
    arrays live in `ws`, else in a workspace of this call, freed on return. `tuner`
    (charrnn.nn.threads.ThreadTuner, optional) chooses the BLAS threads chunk by chunk; `hold`
    (charrnn.nn.intervene.Holds, optional) holds units at a value at every step (--ablate, --clamp).
    Returns (total nats, tokens scored, original characters scored); chars_in(x, y) (optional,
    `Vocab.chars_in`) counts the characters of a chunk (default: one per token)."""
    ws = ws if ws is not None else Workspace()
    state = model.init_state(cfg, streams.batch)
    total, count, chars = 0.0, 0, 0
    for x, y in streams.eval_chunks():
        if remap is not None:
            x, y = remap(x), remap(y)
        with maybe_unit(tuner):
            s, c, state = model.loss_sum(params, cfg, x, y, state, ws, hold=hold)
        total, count = total + s, count + c
        chars += c if chars_in is None else chars_in(x, y)
        if progress is not None:
            progress(count, streams.batch * streams.length)
    return total, count, chars


def result(total: float, count: int, chars: int, vocab, **rest) -> EvalResult:
    """The figures of `total` nats over `count` tokens making `chars` original characters."""
    nats = total / max(1, chars)
    return EvalResult(nats_per_char=nats, bits_per_char=nats / math.log(2), perplexity=math.exp(nats),
                      chars=chars, total_nats=total, nats_per_token=total / count, tokens=vocab.tokens,
                      token_count=count, **rest)


def evaluate_text(trained, text: str, strict: bool = False, streams: int = 1, progress=None,
                  tuner=None, hold=None) -> EvalResult:
    """Score `text` with a `trained.Trained` model (see the module docstring for the rules)."""
    ids, skipped, unknown = known_ids(trained.vocab, text, strict)
    check("streams", streams)
    if len(ids) < 2:
        what = "no characters" if not len(ids) else "only one character"
        raise CorpusError(f"the text has {what} the model knows, nothing to score",
                          hint="evaluate on a text of at least two characters from the model's vocabulary")
    B = max(1, min(streams, len(ids) - 1))
    total, count, chars = stream_scores(trained.params, trained.cfg, Streams(np.asarray(ids), B, CHUNK),
                                        progress=progress, tuner=tuner, chars_in=trained.vocab.chars_in, hold=hold)
    return result(total, count, chars, trained.vocab, skipped=skipped, unknown=unknown, streams=B)
