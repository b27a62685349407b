"""Memory of a recurrent model: how much context it uses, and how far back its gradient reaches.

Notation: x_0 .. x_{n-1} the known characters of a text (ids), l_t = -log p(x_t | x_0 .. x_{t-1})
in nats. Distance k = 0 is the state the prediction of x_t is made from (after reading x_{t-1});
distance k is the state after reading x_{t-1-k}. h^(l) is the hidden state of layer l.

1. Context usage (Khandelwal et al. 2018, "Sharp Nearby, Fuzzy Far Away", for characters):

       L(k)    = mean over targets t of l_t when the model reads only x_{t-k} .. x_{t-1}, from zeros
       L(full) = mean over the same targets of l_t with the state carried from x_0
       effective context = min { k : L(k) - L(full) <= 0.01 nats/char }   (None: "> max_context")

   k runs over 1, 2, 4, ... and max_context; the targets are every t >= max_context, at most
   max_targets of them, evenly spaced. All targets of one k are parallel streams of one batch.

2. Gradient reach: for targets t (evenly spaced, t > max_distance), read the text with the
   carried state up to x_{t-2-K}, then the window x_{t-1-K} .. x_{t-1} (K = max_distance), and
   backpropagate l_t alone, untruncated, through the window:

       grad_h[p, l, k] = || dl_t / dh^(l)_{t-1-k} ||      (total derivatives: every path counts)
       grad_c[p, l, k] = || dl_t / dc^(l)_{t-1-k} ||      (LSTM)
       median ratio    = median over targets of grad_h[:, l, k] / grad_h[:, l, 0]
       gradient horizon of layer l = max { k : median ratio >= 1e-3 }

   For a tanh RNN ||dl/dh_{t-k}|| <= (gamma lambda)^k ||dl/dh_t|| (lambda the largest singular
   value of W_hh, gamma the bound on tanh'): it dies geometrically unless gamma lambda ~ 1. An
   LSTM's cell path multiplies by the forget gates instead: dc_{t-1} = f_t dc_t + (paths via h).

3. Saliency of earlier characters for one target t: || dl_t / d(one-hot input x_{t-1-k}) ||, the
   connectivity of Madsen, "Visualizing memorization in RNNs" (Distill 2019).

Everything runs on the cells' own chunk forward and backward (the code that trains); the
backward's `dstates` argument exposes the gradient reaching every intermediate state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from charrnn.nn.cells import CELLS
from charrnn.errors import UsageError
from charrnn.interpret.memory_plan import STEP_COST, Plan, check_memory, contexts_upto, evenly_spaced, make_plan
from charrnn.nn.losses import nll, softmax_xent
from charrnn.nn.stack import project, stack_backward, stack_forward, zero_state as init_state
from charrnn.tasks.lm import init_params
from charrnn.nn.workspace import Workspace

TOLERANCE = 0.01  # nats/char: L(k) within this of L(full) counts as using all the context it needs
HIGHWAY_BIAS = 1.0  # --init also measures an LSTM at this forget bias: the "cell-state highway"
HORIZON = 1e-3  # median g_k / g_0 at or above this: the gradient still reaches distance k
FULL_CHUNK = 1024  # characters per forward call of the carried (one-stream) pass
BLOCK_FLOATS = 1 << 22  # a forward call of B streams reads about this many pre-activations at once


# ----------------------------------------------------------------------- running the layers
def run_layers(params, cfg, x, state, ws=None):
    """The stacked cells over a chunk: x (T, B) ids or (T, B, V) floats, state (one tuple per
    layer) -> top hidden states (T, B, H), final state, the stack's cache (for backward). With a
    workspace `ws` (charrnn.nn.workspace) the arrays are valid until the next call with it."""
    return stack_forward(params, cfg, x, state, ws=ws)


def nll_of(params, h: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """-log softmax(h Wy + by)[target] per row: h (N, H), targets (N,) -> (N,) float64."""
    return nll(project(params, h).astype(np.float64), targets, overwrite=True)


def carried_pass(params, cfg, ids: np.ndarray, keep=(), progress=None):
    """Read ids (n,) as one stream from a zero state, the state carried throughout.

    Returns nll (n,) float64 with nll[t] = l_t (nll[0] = nan: nothing predicts x_0) and
    {s: the state before reading ids[s]} for every s in `keep`.
    """
    n = len(ids)
    cuts = sorted(set(range(0, n, FULL_CHUNK)) | {int(s) for s in keep if 0 <= s < n} | {n})
    nll = np.full(n, np.nan)
    state, saved, ws = init_state(cfg, 1), {}, Workspace()
    for a, b in zip(cuts[:-1], cuts[1:]):
        if a in keep:
            saved[a] = [tuple(s.copy() for s in layer) for layer in state]
        hs, state, _ = run_layers(params, cfg, ids[a:b, None], state, ws)  # hs (T, 1, H)
        m = min(b, n - 1) - a  # steps whose next character exists
        if m > 0:
            nll[a + 1:a + 1 + m] = nll_of(params, hs[:m, 0], ids[a + 1:a + 1 + m])
        if progress is not None:
            progress((b - a) * (1 + STEP_COST))
    return nll, saved


def context_losses(params, cfg, ids: np.ndarray, targets: np.ndarray, contexts: np.ndarray, progress=None):
    """(C, N) float64: l_t when the model reads only the k characters before each target t, from
    zeros. One batch per k: the N targets are N parallel streams (targets need t >= k)."""
    N = len(targets)
    out = np.empty((len(contexts), N))
    G = CELLS[cfg.cell].gates * cfg.hidden
    chunk = max(1, BLOCK_FLOATS // max(1, N * G))  # time steps per forward call
    ws = Workspace()
    for i, k in enumerate(contexts):
        k = int(k)
        window = np.asarray(targets)[None, :] + np.arange(-k, 0)[:, None]  # (k, N): positions t-k .. t-1
        state = init_state(cfg, N)
        for a in range(0, k, chunk):
            hs, state, _ = run_layers(params, cfg, ids[window[a:a + chunk]], state, ws)
            if progress is not None:
                progress(len(hs) * (N + STEP_COST))
        out[i] = nll_of(params, hs[-1], ids[targets])
    return out


# ------------------------------------------------------------------------ gradient reach
def backward_reach(params, cfg, ids: np.ndarray, targets: np.ndarray, window: int, states: list,
                   onehot: bool = False, progress=None) -> dict:
    """Backpropagate each l_t (t in targets, one stream each) through the `window` characters
    before it, from the given start states (one per target, the state before reading x_{t-window}).

    Returns grad_h (P, L, window) and, for an LSTM, grad_c (P, L, window): the norm of the total
    gradient of l_t reaching each layer's state at distance k = 0 .. window-1; with onehot=True
    also saliency (P, window): || dl_t / d(one-hot x_{t-1-k}) ||.
    """
    cell, L, H, V = CELLS[cfg.cell], cfg.layers, cfg.hidden, cfg.vocab_size
    targets = np.asarray(targets)
    P, T = len(targets), int(window)
    x = ids[targets[None, :] + np.arange(-T, 0)[:, None]]  # (T, P) ids, time-major
    if onehot:  # floats: the cells' backward then returns dL/dx for the input layer
        x = np.eye(V, dtype=params["Wy"].dtype)[x]  # (T, P, V)
    state0 = [tuple(np.concatenate([s[k][j] for s in states]) for j in range(cell.n_state)) for k in range(L)]
    hs, _, stack = run_layers(params, cfg, x, state0)
    if progress is not None:
        progress(T * (P + STEP_COST))
    # dl_t / dlogits = softmax - onehot(x_t), at the last step only: one loss per stream, not a mean
    _, p = softmax_xent(project(params, hs[-1]), ids[targets], mask=np.ones(P), norm=1.0)  # (P, V): summed, not a mean
    dx = np.zeros_like(hs)  # (T, P, H): dl/d(top layer's output) at every step
    dx[-1] = p @ params["Wy"].T
    out = {"grad_h": np.empty((P, L, T)), "grad_c": np.empty((P, L, T)) if cell.n_state == 2 else None}
    dstates = [tuple(np.empty((T, P, H), dtype=hs.dtype) for _ in range(cell.n_state)) for _ in range(L)]
    dx, _ = stack_backward(cfg, dx, None, stack, {}, dstates=dstates)
    for k in range(L):
        out["grad_h"][:, k] = np.linalg.norm(dstates[k][0][::-1].astype(np.float64), axis=2).T  # k = 0 first
        if out["grad_c"] is not None:
            out["grad_c"][:, k] = np.linalg.norm(dstates[k][1][::-1].astype(np.float64), axis=2).T
    if onehot:
        out["saliency"] = np.linalg.norm(dx[::-1].astype(np.float64), axis=2).T  # (P, T)
    if progress is not None:
        progress(2 * T * (P + STEP_COST))
    return out


def median_ratio(grad: np.ndarray) -> np.ndarray:
    """(P, L, K+1) norms -> (L, K+1) median over targets of g_k / g_0 (targets with g_0 = 0 left out)."""
    g0 = grad[:, :, :1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(g0 > 0, grad / np.where(g0 > 0, g0, 1), np.nan)
    if np.isnan(ratio).all():
        return np.zeros(grad.shape[1:])
    with np.errstate(all="ignore"):
        return np.nan_to_num(np.nanmedian(ratio, axis=0), nan=0.0)


def horizon(median: np.ndarray, threshold: float = HORIZON) -> np.ndarray:
    """(L, K+1) median ratios -> (L,) largest k with ratio >= threshold (0 at least: g_0/g_0 = 1)."""
    return np.array([int(np.flatnonzero(row).max()) if row.any() else 0 for row in median >= threshold],
                    dtype=np.int64)


def effective_context(contexts, context_loss, full_loss, tolerance: float = TOLERANCE):
    """The smallest k with L(k) - L(full) <= tolerance, or None (more than the largest k)."""
    gap = np.asarray(context_loss).mean(axis=1) - float(np.mean(full_loss))
    ok = np.flatnonzero(gap <= tolerance)
    return int(contexts[ok[0]]) if len(ok) else None


# ---------------------------------------------------------------------------------- results
@dataclass
class Memory:
    """The measurements of one model on one text (the arrays of `--dump`, see the README)."""

    cell: str
    layers: int
    hidden: int
    text: np.ndarray  # (n,) uint32 code points of the known characters
    positions: np.ndarray  # (P,) int64 gradient targets t
    grad_h: np.ndarray  # (P, L, K+1)
    grad_c: np.ndarray | None  # (P, L, K+1), LSTM only
    contexts: np.ndarray  # (C,) int64
    context_targets: np.ndarray  # (N,) int64
    context_loss: np.ndarray  # (C, N) float64
    full_loss: np.ndarray  # (N,) float64
    saliency: dict | None = None  # {"target": t, "values": (k,) float64 for distances 0..}
    init: "Memory | None" = None  # the same for the freshly initialised model
    init_highway: "Memory | None" = None  # an LSTM freshly initialised with forget bias 1 (the cell-state highway)
    clamped: tuple = ()
    extra: dict = field(default_factory=dict)

    @property
    def distances(self) -> np.ndarray:
        return np.arange(self.grad_h.shape[2], dtype=np.int64)

    @property
    def loss_full(self) -> float:
        return float(np.mean(self.full_loss))

    @property
    def loss_at(self) -> np.ndarray:  # (C,) L(k)
        return self.context_loss.mean(axis=1)

    @property
    def effective_context(self):
        return effective_context(self.contexts, self.context_loss, self.full_loss)

    @property
    def grad_h_median(self) -> np.ndarray:  # (L, K+1)
        return median_ratio(self.grad_h)

    @property
    def grad_c_median(self) -> np.ndarray | None:
        return None if self.grad_c is None else median_ratio(self.grad_c)

    @property
    def gradient_horizon(self) -> np.ndarray:  # (L,)
        return horizon(self.grad_h_median)

    @property
    def c_horizon(self) -> np.ndarray | None:  # (L,) the same for the LSTM cell state
        return None if self.grad_c is None else horizon(self.grad_c_median)


@dataclass
class Job:
    """One model's share of a text: the known characters (ids, code points), the plan, what was skipped."""

    ids: np.ndarray
    points: np.ndarray
    plan: Plan
    skipped: int
    unknown: list


def prepare(trained, text: str, max_context: int = 1024, max_targets: int = 2000, max_distance: int = 256,
            positions: int = 64, at: int | None = None, warn=None) -> Job:
    """What `measure` will do for `trained` (a charrnn.engine.trained.Trained) on `text`: the
    characters it knows (the others are skipped; warn(message) says how many), the options clamped
    to them (warn says so) and checked against memory. `at`: the saliency target as an index into
    `text`; warn says when this model cannot use it (its character, or all before it, unknown)."""
    vocab = trained.vocab
    known = vocab.known(text)
    if known.dropped and warn is not None:
        warn(f"{trained.path}: {known.message()}; it reads the other {len(known.ids):,}")
    t = None
    if at is not None:
        if not 0 <= at < len(text):
            raise UsageError(f"--at {at} is past the end of the text ({len(text):,} characters)",
                             hint=f"pick a position below {len(text):,}, or use --at-match REGEX")
        t = len(vocab.known(text[:at]).ids)
        if vocab.known(text[at]).dropped or t == 0:
            t = None
            if warn is not None:
                warn(f"{trained.path}: no saliency: the target character (or everything before it) "
                     "is not in its vocabulary")
    plan = make_plan(len(known.ids), max_context, max_targets, max_distance, positions, t)
    for option, asked, used in plan.clamped:
        if warn is not None:
            warn(f"{trained.path}: the text has only {len(known.ids):,} characters it knows: "
                 f"{option} {asked} clamped to {used}")
    check_memory(trained.cfg, plan, len(known.ids))
    points = np.array([ord(c) for c in vocab.chars], dtype=np.uint32)[np.asarray(known.ids, dtype=np.intp)]
    return Job(np.asarray(known.ids, dtype=np.intp), points, plan, known.dropped, known.unknown)


def measure(params, cfg, ids: np.ndarray, plan: Plan, points: np.ndarray | None = None,
            init_seed: int | None = None, progress=None) -> Memory:
    """All three measurements of the model (params, cfg) on ids (n,) of its known characters
    (points: their code points, kept in the result as `text`).

    init_seed: also measure the same architecture freshly initialised with this seed (`init`)
    and, for an LSTM, initialised the same way but with forget bias 1 (`init_highway`: the
    "cell-state highway": f = sigmoid(1) = 0.73 at the start instead of 0.5).
    """
    ids = np.asarray(ids, dtype=np.intp)
    n = len(ids)
    contexts = contexts_upto(plan.max_context)
    ctargets = evenly_spaced(plan.max_context, n - 1, plan.max_targets)
    K = plan.max_distance
    positions = evenly_spaced(K + 1, n - 1, plan.positions)
    starts = [int(t) - K - 1 for t in positions]  # the state before the window x_{t-1-K} .. x_{t-1}
    sal_start = None
    if plan.at is not None:
        sal_window = min(K + 1, plan.at)
        sal_start = plan.at - sal_window
    nll, saved = carried_pass(params, cfg, ids, set(starts) | ({sal_start} if sal_start is not None else set()),
                              progress)
    closs = context_losses(params, cfg, ids, ctargets, contexts, progress)
    reach = backward_reach(params, cfg, ids, positions, K + 1, [saved[s] for s in starts], progress=progress)
    saliency = None
    if plan.at is not None:
        sal = backward_reach(params, cfg, ids, np.array([plan.at]), sal_window, [saved[sal_start]],
                             onehot=True, progress=progress)
        saliency = {"target": int(plan.at), "values": sal["saliency"][0]}
    text = np.asarray(points if points is not None else np.zeros(0), dtype=np.uint32)
    m = Memory(cfg.cell, cfg.layers, cfg.hidden, text, positions, reach["grad_h"], reach["grad_c"], contexts,
               ctargets, closs, nll[ctargets], saliency, clamped=plan.clamped)
    if init_seed is not None:
        bare = Plan(plan.max_context, plan.max_targets, plan.max_distance, plan.positions)
        fresh = init_params(cfg, np.random.default_rng(init_seed))
        m.init = measure(fresh, cfg, ids, bare, text, None, progress)
        m.init.extra["forget_bias"] = cfg.forget_bias
        if cfg.cell == "lstm":
            highway = replace(cfg, forget_bias=HIGHWAY_BIAS)
            m.init_highway = measure(init_params(highway, np.random.default_rng(init_seed)), highway, ids, bare,
                                     text, None, progress)
            m.init_highway.extra["forget_bias"] = HIGHWAY_BIAS
    return m


def lesson(results) -> str | None:
    """One sentence from the measured numbers (--init): what sets how far back an untrained LSTM's
    gradient reaches, layer 0's h horizon at the model's forget bias against forget bias 1 (and
    the RNN's, when one was measured). None without an LSTM measured with --init."""
    lstm = next((m for m in results if m.init_highway is not None), None)
    if lstm is None:
        return None
    K = int(lstm.distances[-1])

    def h(m) -> str:
        k = int(m.gradient_horizon[0])
        return f"at least {k}" if k >= K else str(k)
    a, b = int(lstm.init.gradient_horizon[0]), int(lstm.init_highway.gradient_horizon[0])
    rnn = next((m for m in results if m.cell == "rnn" and m.init is not None), None)
    vs = "" if rnn is None else f" (the untrained RNN's: {h(rnn.init)})"
    fb = lstm.init.extra.get("forget_bias", 0.0)
    if b > a:
        end = (f"{h(lstm.init_highway)}: the forget gate's bias, not the architecture, sets how far back an untrained "
               "LSTM's gradient reaches, and so how far back training can start to teach it")
    else:
        end = f"{h(lstm.init_highway)}: on this text the forget bias does not change the untrained reach"
    return (f"Untrained, with forget bias {fb:g}, the LSTM's gradient reaches {h(lstm.init)} characters back in "
            f"layer 0{vs}; with forget bias 1, the cell-state highway, it reaches {end}.")
