"""Every command-line option, declared once: name, default, range, hint, help text, help panel.

The table below is the one place each of these facts lives. It is read by
- the CLI (`charrnn.cli.params.opt("hidden")` builds the Typer option: flags, default, help, panel),
- `check(key, value)`, the one range check: every error reads
  `invalid value for --X: V (want ...)` plus a `hint:` line, exit code 2,
- the config dataclasses (config.py): their defaults are `default(key)`, their checks `check`.

Adding an option (e.g. `--threads`):
1. Add an `Option` to `OPTIONS` below; its key is the Python parameter name, its flag
   `--key` with '-' for '_' unless `flags` says otherwise:

       Option("threads", 1, "BLAS threads per process.", OPTIMISATION, int, 1, 256,
              hint="e.g. --threads 2; at most the machine's cores")

   `want` (the text in the parentheses of the error) is derived from kind/low/high/choices
   unless given; `panel` is the help panel it is listed in.
2. In the command (charrnn/cli/...): a parameter `threads: int = opt("threads")`; a choice is
   `cell: choice("model") = opt("model")`. `@handled` checks every parameter that is in the
   table (`check_all`) before the command body runs: no range check of your own.
3. A model or training setting: add the field to ModelConfig / TrainConfig (config.py) with the
   same name (or set `field=`) and `default("threads")` as its default; `charrnn train` and
   `charrnn.train` then pass it on (config.MODEL_KEYS / TRAIN_KEYS are read off the fields).
4. Name it in the README (tests/test_options.py checks that every flag of the table is there).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charrnn.nn import cells as _cells
from charrnn.errors import UsageError

# Help panels, in the order they appear in `--help`.
MODEL = "Model"
DATA = "Data"
OPTIMISATION = "Optimisation"
STOP = "Stop rules"
OUTPUT = "Output"
SAMPLING = "Sampling"
INPUT = "Input"
SEQ2SEQ = "Seq2seq"
LABELLED = "Classify and tag"
DECODING = "Decoding"
MEASURE = "Measurements"
PERFORMANCE = "Performance"
INTERVENE = "Interventions"

# Upper bounds that catch typos (hidden 1000000) before they eat the machine's memory.
MAX_HIDDEN = 8192
MAX_LAYERS = 16
MAX_BATCH = 8192
MAX_SEQ_LEN = 100_000
MAX_EPOCHS = 1_000_000
MAX_TEMPERATURE = 100.0  # above this sampling is all but uniform for usual logits; 1e308 overflowed the noise

CELLS = tuple(_cells.CELLS)  # lstm, gru, rnn: the registry's order
OPTIMIZERS = ("adam", "rmsprop", "adagrad", "sgd")
DTYPES = ("float32", "float64")
DECAY_UNITS = ("step", "epoch")
BIAS_INITS = ("zero", "uniform")
ENCODING_ERRORS = ("strict", "replace", "ignore")
TOKENIZATIONS = ("chars", "jamo")  # charrnn.data.tokens
TASKS = ("lm", "seq2seq", "classify", "tag")
POOLS = ("mean", "last")
CLASS_WEIGHTS = ("none", "balanced")
KERNELS = ("auto", "numpy", "fused")  # charrnn.nn.kernels
BACKENDS = ("numpy", "torch")
MAX_BEAM = 100
MAX_OUTPUT = 100_000


@dataclass(frozen=True)
class Option:
    key: str  # Python name (the command's parameter); the flag is --key with '_' -> '-'
    default: Any
    help: str
    panel: str | None = None
    kind: type = str  # int, float, str, bool, Path, list
    low: float | None = None  # inclusive unless low_open
    high: float | None = None  # inclusive unless high_open
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    hint: str | None = None
    want: str | None = None  # the text of the error's parentheses; derived when None
    field: str | None = None  # config field, when it differs from the key
    flags: tuple = ()  # when not just --key (e.g. ("--temp", "--temperature"))
    metavar: str | None = None
    show_default: Any = True
    parse: Any = None  # str -> value, raising UsageError (e.g. durations)

    @property
    def flag(self) -> str:
        return self.flags[0] if self.flags else "--" + self.key.replace("_", "-")

    def wanted(self) -> str:
        if self.want:
            return self.want
        if self.choices:
            return "one of " + ", ".join(self.choices)
        what = "a whole number" if self.kind is int else "a number"
        lo, hi = self.low, self.high
        if lo is not None and hi is not None and not (self.low_open or self.high_open):
            return f"{what} from {lo:,g} to {hi:,g}" if self.kind is float else f"{what} from {lo} to {hi:,}"
        parts = []
        if lo is not None:
            parts.append(f"{'>' if self.low_open else '>='} {lo:g}")
        if hi is not None:
            parts.append(f"{'<' if self.high_open else '<='} {hi:,g}")
        return f"{what} " + " and ".join(parts) if parts else what

    def ok(self, value) -> bool:
        if self.choices:
            return value in self.choices
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            if self.kind is int and not isinstance(value, int):
                return False
            if not math.isfinite(value):
                return False
            if self.low is not None and (value <= self.low if self.low_open else value < self.low):
                return False
            if self.high is not None and (value >= self.high if self.high_open else value > self.high):
                return False
        return True


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h|hr|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


def parse_duration(text: str, option: str = "--time") -> float:
    """'90s' -> 90.0, '10m' -> 600.0, '2h' -> 7200.0, '45' -> 45.0 (seconds)."""
    m = _DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"invalid value for {option}: {text!r} (want a duration > 0 such as 90s, 10m, 2h or 1.5h)",
                         hint="a number with s, m, h or d, e.g. --time 10m")
    return float(m.group(1)) * _UNIT_SECONDS[(m.group(2) or "s").lower()]


_ENC_HELP = "Invalid UTF-8: strict (error), replace (U+FFFD) or ignore."
_ENC_HINT = "use strict, replace (invalid bytes become U+FFFD) or ignore (they are dropped)"

OPTIONS: dict[str, Option] = {o.key: o for o in [
    # ------------------------------------------------------------------------ train: model
    Option("model", "lstm", "Recurrent cell.", MODEL, choices=CELLS, field="cell",
           hint="e.g. --model gru"),
    Option("hidden", 128, "Hidden units per layer.", MODEL, int, 1, MAX_HIDDEN,
           hint="e.g. --hidden 128; more units learn more but train slower"),
    Option("layers", 2, "Stacked recurrent layers.", MODEL, int, 1, MAX_LAYERS, hint="e.g. --layers 2"),
    Option("dropout", 0.0, "Dropout on every layer's output while training, in [0, 1).", MODEL, float, 0, 1,
           high_open=True, want="a fraction in [0, 1)", hint="0 turns dropout off; 0.2 to 0.5 fights overfitting"),
    Option("forget_bias", 0.0, "LSTM: initial forget-gate bias (0 learned fastest in docs/init-experiment; 1 keeps "
           "memory early on).", MODEL, float, -10, 10, hint="e.g. --forget-bias 0"),
    Option("bias_init", "zero", "Initial biases: zero, or uniform as PyTorch's (small random values).", MODEL,
           choices=BIAS_INITS, hint="zero or uniform"),
    Option("init_scale", 1.0, "Initial weights ~ U(-s/sqrt(H), s/sqrt(H)) with s this scale (1: as PyTorch).", MODEL,
           float, 0, 10, low_open=True, want="a number > 0, at most 10", hint="e.g. --init-scale 1"),
    Option("dtype", "float32", "Floating-point type: float32 (fast) or float64.", MODEL, choices=DTYPES,
           hint="float32 trains fast; float64 is for gradient checks"),
    # ------------------------------------------------------------------------- train: data
    Option("seq_len", 50, "Characters per chunk: the truncated-BPTT length.", DATA, int, 1, MAX_SEQ_LEN,
           hint="e.g. --seq-len 50"),
    Option("batch", 50, "Parallel streams per batch.", DATA, int, 1, MAX_BATCH, hint="e.g. --batch 50"),
    Option("val_frac", 0.1, "Fraction of the text (its end) held out for validation.", DATA, float, 0, 1,
           low_open=True, high_open=True, want="a fraction in (0, 1)", hint="e.g. --val-frac 0.1"),
    Option("tokens", "chars", "What one step reads: chars (one character), or jamo (Hangul syllables as their 2-3 "
           "jamo; output is still whole syllables).", DATA, choices=TOKENIZATIONS,
           hint="chars, or jamo for Korean text"),
    Option("encoding_errors", "strict", _ENC_HELP, DATA, choices=ENCODING_ERRORS, hint=_ENC_HINT, metavar="MODE"),
    # ----------------------------------------------------------------- train: optimisation
    Option("optimizer", "adam", "Optimizer.", OPTIMISATION, choices=OPTIMIZERS, hint="adam is a good default"),
    Option("lr", 2e-3, "Learning rate (a language model's default by cell: docs/init-experiment).", OPTIMISATION,
           float, 0, 10, low_open=True, show_default="4e-3 lstm, 2e-3 gru/rnn/seq2seq",
           want="a positive number up to 10, typically 1e-4 to 1e-2", hint="e.g. --lr 2e-3"),
    Option("momentum", 0.9, "Momentum (sgd only).", OPTIMISATION, float, 0, 1, high_open=True,
           want="a fraction in [0, 1)", hint="e.g. --momentum 0.9"),
    Option("lr_decay", 1.0, "Multiply the learning rate by this every --lr-decay-every units.", OPTIMISATION,
           float, 0, 1, low_open=True, want="a factor in (0, 1]", hint="1 keeps the rate constant; e.g. 0.97"),
    Option("lr_decay_every", 0, "Decay period (0: never decay).", OPTIMISATION, int, 0,
           hint="0 never decays; e.g. --lr-decay-every 1 with --lr-decay-unit epoch"),
    Option("lr_decay_unit", "epoch", "Unit of --lr-decay-every.", OPTIMISATION, choices=DECAY_UNITS,
           hint="step or epoch"),
    Option("clip", 5.0, "Clip gradients to this global L2 norm (0: off).", OPTIMISATION, float, 0, 1e6,
           want="a number >= 0 (0 turns clipping off)", hint="e.g. --clip 5"),
    Option("clip_value", 0.0, "Also clip each gradient element to [-v, v] (0: off).", OPTIMISATION, float, 0, 1e6,
           want="a number >= 0 (0 turns it off)", hint="e.g. --clip-value 1"),
    Option("seed", 0, "Random seed (initialisation, dropout).", OPTIMISATION, int, 0,
           hint="e.g. --seed 1"),
    # ----------------------------------------------------------------------- train: stop rules
    Option("max_steps", None, "Stop after this many steps in all (counting steps before a resume).", STOP, int, 1,
           show_default="none", hint="e.g. --max-steps 2000"),
    Option("epochs", None, "Stop after this many passes over the training text (10 when no other stop rule is "
           "given).", STOP, float, 0, MAX_EPOCHS, low_open=True, show_default="none",
           want=f"a number > 0, at most {MAX_EPOCHS:,}", hint="e.g. --epochs 10 or --epochs 0.5"),
    Option("time", None, "Stop after this much wall-clock time, e.g. 90s, 10m, 2h.", STOP, float,
           field="time_limit", show_default="none", want="a duration > 0 such as 90s, 10m or 2h",
           hint="a number with s, m, h or d, e.g. --time 10m", low=0, low_open=True, parse=parse_duration),
    Option("patience", None, "Stop after this many evaluations without a better val loss.", STOP, int, 1,
           show_default="none", hint="e.g. --patience 5"),
    # --------------------------------------------------------------------------- train: output
    Option("out", Path("checkpoints"), "Output directory for latest.npz, best.npz and metrics.jsonl "
           "(with --resume: the checkpoint's own).", OUTPUT, Path),
    Option("resume", None, "Continue the run saved in this checkpoint exactly where it stopped.", OUTPUT, Path,
           show_default="none"),
    Option("init_from", None, "Start from this checkpoint's weights (fine-tuning on new text).", OUTPUT, Path,
           show_default="none"),
    Option("overwrite", False, "Replace a previous run in --out (by default it is refused).", OUTPUT, bool),
    Option("eval_every", None, "Steps between validation passes and checkpoints (none: 500, but at least once "
           "per epoch and about every 5% of a run planned in steps or epochs).", OUTPUT, int, 1,
           show_default="none", hint="e.g. --eval-every 500"),
    Option("sample_len", 200, "Characters of sample shown at each evaluation (0: none).", OUTPUT, int, 0,
           hint="0 shows no sample"),
    Option("quiet", False, "Only warnings, errors and the final line.", OUTPUT, bool, flags=("--quiet", "-q"),
           show_default="off"),
    # ------------------------------------------------------------------------ train: seq2seq
    Option("task", "lm", "lm: a language model of CORPUS; seq2seq: an encoder-decoder on a pairs file "
           "(source<TAB>target per line); classify: one label per line (text<TAB>label); tag: one tag per "
           "character (text<TAB>tags).", SEQ2SEQ, choices=TASKS, hint="lm, seq2seq, classify or tag"),
    Option("teacher_forcing", 1.0, "seq2seq: probability of feeding the decoder the true previous character "
           "(below 1: scheduled sampling).", SEQ2SEQ, float, 0, 1, want="a probability in [0, 1]",
           hint="1 always feeds the truth; e.g. --teacher-forcing 0.75"),
    Option("teacher_forcing_decay", 0, "seq2seq: steps over which --teacher-forcing falls linearly to 0 "
           "(0: constant).", SEQ2SEQ, int, 0, hint="0 keeps it constant; e.g. --teacher-forcing-decay 5000"),
    Option("skip_bad_lines", False, "seq2seq, classify, tag: leave out lines that are not one source<TAB>target "
           "pair, text<TAB>label or text<TAB>tags line (and count them) instead of failing.", SEQ2SEQ, bool,
           flags=("--skip-bad-lines",), show_default="off"),
    # ------------------------------------------------------------------------ train: classify, tag
    Option("bidirectional", False, "classify, tag: a second layer stack reads each line right to left; the two "
           "outputs are concatenated.", LABELLED, bool, flags=("--bidirectional",), show_default="off"),
    Option("pool", "mean", "classify: what the label is read from: the mean of the top layer's outputs over "
           "the line, or its last output (the final state).", LABELLED, choices=POOLS, hint="mean or last"),
    Option("class_weights", "none", "classify, tag: none, or balanced (each label's loss weighted by "
           "N / (labels x its count), so rare labels count as much as common ones).", LABELLED,
           choices=CLASS_WEIGHTS, hint="none or balanced"),
    # ------------------------------------------------------------------------------ translate
    Option("beam", None, "Beam search with this many hypotheses and length normalisation (none: greedy).",
           DECODING, int, 1, MAX_BEAM, show_default="none", hint="e.g. --beam 5; --beam 1 is greedy"),
    Option("max_len", None, "Most output characters per input (none: twice the longest training target + 10, at "
           "most 100,000); outputs cut there are named on stderr.",
           DECODING, int, 1, MAX_OUTPUT, show_default="none", hint="e.g. --max-len 50"),
    Option("translate_temp", 0.0, "Sample each output character from softmax(logits / T) instead of taking the "
           "most likely one (0: greedy).", DECODING, float, 0, MAX_TEMPERATURE, flags=("--temp", "--temperature"),
           want=f"a number >= 0, at most {MAX_TEMPERATURE:g}", hint="0 is greedy; e.g. --temp 0.5"),
    # --------------------------------------------------------------------------------- sample
    Option("temp", 1.0, "Temperature: 0 is greedy (argmax), < 1 more conservative, > 1 more random (at most 100).",
           SAMPLING, float, 0, MAX_TEMPERATURE, flags=("--temp", "--temperature"),
           want=f"a number >= 0, at most {MAX_TEMPERATURE:g}",
           hint="0 is greedy (argmax), 1 the model's own distribution; usual values are 0.5 to 1.5"),
    Option("length", 1000, "Characters to generate after the prime.", SAMPLING, int, 0,
           hint="the number of characters to generate, e.g. --length 500"),
    Option("prime", "", "Text fed through the model first to warm its state, then echoed (none: start as if after "
           "a newline, else after the most frequent character).", SAMPLING, show_default="none"),
    Option("sample_seed", None, "Random seed: the same checkpoint, options and seed give the same text (none: a "
           "fresh one, shown on stderr).", SAMPLING, int, 0, flags=("--seed",), show_default="none",
           hint="e.g. --seed 1; leave it out for a fresh seed"),
    Option("top_k", None, "Draw only among the K most likely characters (none: all).", SAMPLING, int, 1,
           show_default="none", hint="leave it out to keep every character"),
    Option("top_p", None, "Draw only among the most likely characters whose probabilities add up to P (nucleus "
           "sampling), 0 < P <= 1 (none: all).", SAMPLING, float, 0, 1, low_open=True, show_default="none",
           want="a number in (0, 1]", hint="e.g. --top-p 0.9; 1 keeps every character"),
    Option("num_samples", 1, "Independent samples (each from the prime); each one starts with a line "
           "'--- sample K/N ---'.", SAMPLING, int, 1, hint="e.g. --num-samples 3"),
    Option("skip_unknown", False, "Drop prime characters that are not in the vocabulary (with a warning) instead "
           "of failing.", SAMPLING, bool, flags=("--skip-unknown",), show_default="off"),
    # -------------------------------------------------------------------------------- predict
    Option("top_labels", 1, "classify: print the K most likely labels of each line, each with its probability.",
           OUTPUT, int, 1, flags=("--top",), metavar="K", hint="e.g. --top 3"),
    Option("show", False, "tag: print the text rendered with its tags (spacing tags: the text with its spaces "
           "put back; others: the tags on the line under the text).", OUTPUT, bool, flags=("--show",),
           show_default="off"),
    # ------------------------------------------------------------------------------- evaluate
    Option("strict", False, "Fail if the text has characters outside the vocabulary (off: skip and report "
           "them).", INPUT, bool, flags=("--strict",), show_default="off"),
    Option("streams", 1, "Score the text as this many parallel parts: faster on long files, slightly less exact "
           "(1: the whole file as one stream).", INPUT, int, 1,
           hint="1 scores the file as one stream (exact)"),
    # ---------------------------------------------------------------------------------- shared
    Option("threads", "auto", "Threads for the matrix products: auto (time the work at 1 thread and at all "
           "cores, use the faster, measure again as the load changes; sample: 1 thread, which keeps a seed's "
           "text the same) or a number (1 suits a machine busy with other jobs).", PERFORMANCE, metavar="N|auto",
           hint="--threads auto picks 1 or all cores by timing the work; --threads 1 suits a busy machine"),
    Option("kernels", "auto", "The recurrent time loop: fused (each step one BLAS product and one compiled pass, "
           "numba), numpy (the plain NumPy cells) or auto (fused when numba imports, else numpy; sample: fused "
           "from 100,000 characters, evaluate from a 100 KB file, where it pays for numba's start-up). Both give the same numbers to float "
           "rounding.", PERFORMANCE, choices=KERNELS,
           hint="auto uses numba when it is installed; --kernels numpy runs without it"),
    Option("backend", "numpy", "What runs a training step: numpy (this package, the CPU) or torch (PyTorch: a "
           "GPU, many processes under torchrun; needs pip install 'charrnn[torch]').", PERFORMANCE,
           choices=BACKENDS, hint="numpy or torch"),
    Option("device", "auto", "--backend torch: where the step runs: auto (a CUDA GPU if there is one, else the "
           "CPU), cpu, cuda or cuda:N.", PERFORMANCE, metavar="auto|cpu|cuda[:N]",
           hint="auto, cpu, cuda or cuda:N"),
    Option("as_json", False, "Print one JSON object instead of the table(s).", OUTPUT, bool, flags=("--json",),
           show_default="off"),
    Option("live", None, "Rewrite this self-contained HTML page at every evaluation: learning curves, latest "
           "samples, each probe's best unit |r| over the steps and its heat map (the page reloads itself).",
           OUTPUT, Path, flags=("--live",), metavar="FILE.html", show_default="none"),
    # ----------------------------------------------------------------- sample / evaluate: causes
    Option("ablate", None, "Zero this unit of a layer's state at every step, as LAYER:KIND:INDEX with KIND h "
           "(or c for an LSTM), e.g. L0:c:98. Repeatable.", INTERVENE, list, flags=("--ablate",),
           metavar="UNIT", show_default="none"),
    Option("clamp", None, "Hold this unit at a value at every step, as UNIT=VALUE, e.g. L0:c:98=0.8. "
           "Repeatable.", INTERVENE, list, flags=("--clamp",), metavar="UNIT=VALUE", show_default="none"),
    Option("ablation", False, "Also measure, for each probe's top unit, the loss change when it is zeroed "
           "(on all characters and where the probe is active), against a random unit of the same layer "
           "and kind.", MEASURE, bool, flags=("--ablation",), show_default="off"),
    # -------------------------------------------------------------------------- inspect-cells
    Option("text", None, "Text to run the model on (none: the validation part of its training corpus).", INPUT,
           Path, flags=("--text",), show_default="none"),
    Option("max_chars", 20000, "Use at most this many characters of the text (only those are read).", INPUT, int,
           1, hint="the number of characters of the text to analyse, e.g. --max-chars 20000"),
    Option("probe", None, "Probe to rank units against (repeatable): in_double_quotes, in_single_quotes, "
           "in_string, line_position, chars_to_eol, bracket_depth, indentation, in_comment, word_start, "
           "upper_case, or regex:PATTERN.", "Probes and units", list, flags=("--probe",), metavar="NAME",
           show_default="all built-in"),
    Option("top", 3, "Units shown per probe.", "Probes and units", int, 1,
           hint="the number of units shown per probe, e.g. --top 3"),
    Option("unit", None, "Show this unit's heat map, as LAYER:KIND:INDEX (e.g. 1:c:37; KIND h, c, i, f, o, r or "
           "z; counting from 0). Repeatable.", "Probes and units", list, metavar="LAYER:KIND:INDEX",
           show_default="none"),
    Option("excerpt", 400, "Characters of text per heat map in the terminal (0: no heat maps).", OUTPUT, int, 0,
           hint="characters per heat map; 0 shows none"),
    Option("html", None, "Write a self-contained HTML page with the heat maps, a unit picker and the model itself "
           "(type a text and watch the units, sample, clamp or ablate a unit).", OUTPUT, Path,
           flags=("--html",), show_default="none"),
    Option("dump", None, "Write the raw traces, text, unit index and probes to this .npz.", OUTPUT, Path,
           flags=("--dump",), show_default="none"),
    # ------------------------------------------------------------------------- inspect-memory
    Option("max_context", 1024, "Longest context k of the context-usage curve (k = 1, 2, 4, ... up to this).",
           MEASURE, int, 1, hint="e.g. --max-context 1024"),
    Option("max_targets", 2000, "Targets scored for context usage, evenly spaced.", MEASURE, int, 1,
           hint="e.g. --max-targets 2000"),
    Option("max_distance", 256, "Steps the gradient is followed back from each target.", MEASURE, int, 1,
           hint="e.g. --max-distance 256"),
    Option("positions", 64, "Targets the gradient is followed back from, evenly spaced.", MEASURE, int, 1,
           hint="e.g. --positions 64"),
    Option("init", False, "Also measure each architecture freshly initialised (with the checkpoint's seed).",
           MEASURE, bool, flags=("--init",), show_default="off"),
    Option("at", None, "Saliency of the characters before character N of the text (counting from 0).", MEASURE,
           int, 1, flags=("--at",), metavar="N", show_default="the middle of the text",
           want="a whole number >= 1: a target needs a character before it", hint="e.g. --at 1000"),
    Option("at_match", None, "Saliency target: the last character of the first match of REGEX.", MEASURE,
           flags=("--at-match",), metavar="REGEX", show_default="none"),
    # -------------------------------------------------------------------------------- compare
    Option("width", 64, "Width of the terminal charts in characters.", OUTPUT, int, 16, 400,
           hint="e.g. --width 100"),
]}

CHECKPOINT_HELP = ("Checkpoint file, or a directory (its best.npz, else latest.npz); "
                   "default: checkpoints/.")


def default(key: str):
    """The default of option `key` (the config dataclasses take theirs from here)."""
    return OPTIONS[key].default


# The learning rate of a new language model by cell, where measurement found a better one than the
# general default (docs/init-experiment, the default run on tiny-shakespeare): the LSTM 1.554 nats/char
# at 4e-3 against 1.595 at 2e-3 (3 seeds each); the GRU 1.565 against 1.566 and the RNN 1.690
# against 1.680 (1 seed each): no gain, so they keep 2e-3. Seq2seq keeps the general default.
CELL_LR = {"lstm": 4e-3}


def default_lr(cell: str) -> float:
    """--lr of a new language model with this cell when the user gives none."""
    return CELL_LR.get(cell, default("lr"))


def shown_value(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def check(key: str, value):
    """`value` if option `key` accepts it (None always passes for an option whose default is None);
    else UsageError `invalid value for --X: V (want ...)` with the option's hint."""
    o = OPTIONS[key]
    if value is None and o.default is None:
        return value
    if o.parse is not None and isinstance(value, str):
        value = o.parse(value)
    if not o.ok(value):
        raise UsageError(f"invalid value for {o.flag}: {shown_value(value)} (want {o.wanted()})", hint=o.hint)
    return value


def check_all(values: dict) -> None:
    """`check` every value of `values` whose key is an option of the table (others are ignored;
    None, an optional option left out, always passes)."""
    for key, value in values.items():
        if value is not None and key in OPTIONS and (OPTIONS[key].kind in (int, float) or OPTIONS[key].choices):
            check(key, getattr(value, "value", value))


def key_of_field(name: str) -> str:
    """The option key of a config field (`cell` -> `model`, `time_limit` -> `time`)."""
    return _FIELD_KEYS.get(name, name)


_FIELD_KEYS = {o.field: o.key for o in OPTIONS.values() if o.field}
