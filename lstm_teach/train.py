"""Training on lstm_teach.fast: a loop with gradient clipping, a loss history, a progress bar.

    result = train_sine(steps=300)            # an LSTM + linear read-out continues a sine wave
    result = train_chars(steps=600)           # a character model on the shipped fables
    print(sample_chars(result.params, result.vocab, prime="the ", length=200))

fit() is the loop itself and knows nothing about the task: it calls loss_and_grads(params,
step) -> (loss, grads), clips the gradients by their global norm, lets the optimiser take a
step and records the loss. Parameters are (LSTMParams, {"wy": (O, H), "by": (O,)}): the
LSTM and a linear read-out from its hidden state.

The progress bar prints a fixed number of updates with losses rounded to 4 decimals, and the
time only as "N.N s elapsed" at the end, so a notebook's stored output is the same on every
run once that pattern is masked (tests/nbval_sanitize.cfg does).
"""

import sys
import time
from typing import NamedTuple

import numpy as np

from . import fast, rnn
from ._validate import check_int
from .datasets import CharTask, Vocab, adding_problem, char_task, sine_wave
from .losses import linear_backward, linear_forward, mse_loss, softmax, softmax_cross_entropy
from .optim import Adam, clip_by_global_norm
from .params import LSTMParams, init_params
from .stack import StackCache, init_stack, stack_backward, stack_forward


class ProgressBar:
    """`label [########............]  40% step 80/200  loss 0.1234`, rewritten in place.

    total: number of steps; updates: how many times the line is redrawn (at evenly spaced
    steps, so the printed text does not depend on speed); width: characters of the bar;
    file: where to write (default sys.stdout). Call update(step, loss) after every step
    (1-based step), then close(loss) once.
    """

    def __init__(self, total: int, label: str = "", updates: int = 10, width: int = 20,
                 file=None):
        self.total = check_int("total", total)
        self.updates = check_int("updates", updates)
        self.label, self.width, self.file = label, width, file
        self.start = time.perf_counter()
        self._marks = {max(1, round(k * self.total / self.updates))
                       for k in range(1, self.updates + 1)}

    def _line(self, step: int, loss: float) -> str:
        done = int(self.width * step / self.total)
        bar = "#" * done + "." * (self.width - done)
        prefix = f"{self.label} " if self.label else ""
        return (f"{prefix}[{bar}] {100 * step // self.total:3d}% step {step}/{self.total}"
                f"  loss {loss:.4f}")

    def update(self, step: int, loss: float) -> None:
        if step in self._marks and step < self.total:
            print("\r" + self._line(step, loss), end="", file=self.file or sys.stdout,
                  flush=True)

    def close(self, loss: float) -> float:
        """Print the final line with the elapsed time; return the seconds elapsed."""
        seconds = time.perf_counter() - self.start
        print(f"\r{self._line(self.total, loss)}  ({seconds:.1f} s elapsed)",
              file=self.file or sys.stdout, flush=True)
        return seconds


class TrainResult(NamedTuple):
    """params: (LSTMParams, read-out dict); losses: the loss of every step (list of floats);
    seconds: wall time of the loop; vocab: the Vocab of a character model (else None);
    samples: {step: text} generated during training (character model only)."""

    params: tuple
    losses: list
    seconds: float
    vocab: Vocab | None = None
    samples: dict | None = None


def fit(loss_and_grads, params, optimizer, steps: int, clip: float | None = None,
        progress: bool = True, label: str = "", callback=None):
    """Run `steps` optimisation steps; return (params, losses, seconds).

    loss_and_grads(params, step) -> (loss: float, grads with params's structure), step 0-based.
    optimizer: an lstm_teach.optim optimiser (step(params, grads) -> new params).
    clip: max global norm of the gradient (None: no clipping).
    callback(step, params): called after each step (1-based step), e.g. to draw samples.
    """
    steps = check_int("steps", steps)
    bar = ProgressBar(steps, label=label) if progress else None
    start = time.perf_counter()
    losses = []
    for step in range(steps):
        loss, grads = loss_and_grads(params, step)
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss} at step {step}: lower the "
                                     "learning rate or clip the gradients")
        if clip is not None:
            grads, _ = clip_by_global_norm(grads, clip)
        params = optimizer.step(params, grads)
        losses.append(float(loss))
        if bar:
            bar.update(step + 1, loss)
        if callback:
            callback(step + 1, params)
    seconds = bar.close(losses[-1]) if bar else time.perf_counter() - start
    return params, losses, seconds


def init_model(input_size: int, hidden_size: int, output_size: int, seed: int = 0,
               dtype=np.float64, num_layers: int = 1) -> tuple:
    """(LSTMParams, {"wy": (O, H), "by": (O,)}): an LSTM and its linear read-out.

    num_layers > 1: a stack (lstm_teach.init_stack's tuple of LSTMParams) instead of one
    LSTMParams; it trains on the fast path too, layer by layer (stack_forward with
    backend=lstm_teach.fast). The read-out starts small (U(-1/sqrt(H), 1/sqrt(H))) and its
    bias at zero.
    """
    if check_int("num_layers", num_layers) > 1:
        p = init_stack(input_size, hidden_size, num_layers, seed=seed, dtype=dtype)
    else:
        p = init_params(input_size, hidden_size, seed=seed, dtype=dtype)
    H, O = hidden_size, check_int("output_size", output_size)
    rng = np.random.default_rng(seed + 1)
    k = 1 / np.sqrt(H)
    return p, {"wy": rng.uniform(-k, k, size=(O, H)).astype(dtype), "by": np.zeros(O, dtype)}


def _model_forward(params, xs, h0=None, c0=None):
    """One LSTM (h0, c0 (B, H)) or a stack of layers (h0, c0 (L, B, H)), on the fast path."""
    p, readout = params
    if isinstance(p, LSTMParams):
        hs, cache = fast.lstm_forward(xs, p, h0, c0)
    else:
        hs, cache = stack_forward(xs, p, h0, c0, backend=fast)
    return linear_forward(hs, readout["wy"], readout["by"]), hs, cache


def _model_backward(dout, params, hs, cache):
    p, readout = params
    dhs, dwy, dby = linear_backward(dout, hs, readout["wy"])
    backward = stack_backward if isinstance(cache, StackCache) else fast.lstm_backward
    return backward(dhs, cache).params, {"wy": dwy, "by": dby}


def _final_state(hs, cache):
    """(h, c) after the last step, copies, to start the next chunk from: (B, H) for one LSTM,
    (L, B, H) for a stack."""
    if isinstance(cache, StackCache):
        return cache.hn.copy(), cache.cn.copy()
    return hs[-1].copy(), cache.cs[-1].copy()


# ------------------------------------------------------------------------ the sine wave

def sine_loss(params, xs, ys) -> float:
    """Mean over T B of 1/2 (prediction - y)^2 for sine_wave data xs, ys (T, B, 1)."""
    pred, _, _ = _model_forward(params, xs)
    return mse_loss(pred, ys, reduction="mean")[0]


def train_sine(steps: int = 300, hidden_size: int = 16, T: int = 50, B: int = 16,
               period: float = 20.0, lr: float = 0.01, clip: float | None = 1.0,
               seed: int = 0, dtype=np.float64, progress: bool = True,
               num_layers: int = 1) -> TrainResult:
    """Teach an LSTM (1 input, hidden_size units) and a read-out to continue a sine wave.

    Each step draws B new waves with random phases (sine_wave with seed + 1 + step), so the
    network must learn the wave, not the batch. Loss: mse_loss with reduction="mean", i.e.
    the mean over T B of 1/2 (prediction - next value)^2. Optimiser: Adam(lr).
    num_layers > 1 trains a stack of that many LSTM layers (see init_model).
    """
    params = init_model(1, hidden_size, 1, seed=seed, dtype=dtype, num_layers=num_layers)

    def loss_and_grads(params, step):
        xs, ys = sine_wave(T, B, period=period, seed=seed + 1 + step, dtype=dtype)
        pred, hs, cache = _model_forward(params, xs)
        loss, dpred = mse_loss(pred, ys, reduction="mean")
        return loss, _model_backward(dpred, params, hs, cache)

    params, losses, seconds = fit(loss_and_grads, params, Adam(lr), steps, clip=clip,
                                  progress=progress, label="sine")
    return TrainResult(params, losses, seconds)


# ------------------------------------------------------------------------ characters

def sample_chars(params, vocab: Vocab, prime: str = "the ", length: int = 200,
                 temperature: float = 0.8, seed: int = 0) -> str:
    """Text generated by a character model: prime, then `length` sampled characters.

    temperature < 1 sharpens the softmax (more likely characters, less variety), > 1 flattens
    it. The same seed gives the same text.
    """
    length = check_int("length", length, minimum=0)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive; got {temperature!r}")
    if not prime:
        raise ValueError("prime must be a non-empty str (the model needs a first character)")
    dtype = params[1]["wy"].dtype  # the read-out's: params[0] may be one LSTM or a stack
    rng = np.random.default_rng(seed)
    xs = vocab.one_hot(vocab.encode(prime), dtype=dtype)[:, None, :]  # (len(prime), 1, V)
    logits, hs, cache = _model_forward(params, xs)
    h, c = _final_state(hs, cache)
    out = []
    for _ in range(length):
        probs = softmax(logits[-1, 0].astype(np.float64) / temperature)
        k = int(rng.choice(vocab.size, p=probs / probs.sum()))
        out.append(vocab.chars[k])
        x = vocab.one_hot(np.array([[k]]), dtype=dtype)  # (1, 1, V)
        logits, hs, cache = _model_forward(params, x, h, c)
        h, c = _final_state(hs, cache)
    return prime + "".join(out)


def char_loss(params, task: CharTask, T: int = 32) -> float:
    """Mean cross-entropy (nats per character) over every chunk of task, state carried."""
    dtype = params[1]["wy"].dtype
    total, count, h, c = 0.0, 0, None, None
    for inputs, targets in task.chunks(T):
        logits, hs, cache = _model_forward(params, task.vocab.one_hot(inputs, dtype), h, c)
        total += softmax_cross_entropy(logits, targets, reduction="sum")[0]
        count += targets.size
        h, c = _final_state(hs, cache)
    return total / count


def train_chars(steps: int = 600, hidden_size: int = 64, T: int = 32, B: int = 16,
                lr: float = 0.01, clip: float | None = 5.0, seed: int = 0,
                dtype=np.float32, task: CharTask | None = None, sample_at=(),
                sample_length: int = 120, prime: str = "the ",
                progress: bool = True, callback=None, num_layers: int = 1) -> TrainResult:
    """Train a character model (LSTM + read-out + softmax) on the shipped fables.

    num_layers > 1: a stack of LSTM layers (see init_model), its (h, c) carried as (L, B, H).

    The text is cut into B streams (char_task); each step takes the next chunk of T
    characters of every stream, starting from the (h, c) the previous chunk ended with:
    truncated BPTT over chunks, with the state, not the gradient, carried across. The state
    is reset to zeros when the streams run out and start again. Loss: softmax_cross_entropy
    with reduction="mean", in nats per character (log(V) ~ 3.5 for guessing uniformly).
    sample_at: steps after which sample_chars(prime, sample_length) is stored in
    result.samples (0 = before training). callback(step, params): called before training
    (step 0) and after every step, e.g. to measure the loss on a held-out text.
    """
    task = char_task(B) if task is None else task
    V = task.vocab.size
    params = init_model(V, hidden_size, V, seed=seed, dtype=dtype, num_layers=num_layers)
    samples = {}
    state = {"chunks": None, "h": None, "c": None}

    def next_chunk():
        while True:
            if state["chunks"] is None:
                state["chunks"], state["h"], state["c"] = task.chunks(T), None, None
            chunk = next(state["chunks"], None)
            if chunk is not None:
                return chunk
            state["chunks"] = None

    def loss_and_grads(params, step):
        inputs, targets = next_chunk()
        xs = task.vocab.one_hot(inputs, dtype)
        logits, hs, cache = _model_forward(params, xs, state["h"], state["c"])
        state["h"], state["c"] = _final_state(hs, cache)
        loss, dlogits = softmax_cross_entropy(logits, targets, reduction="mean")
        return loss, _model_backward(dlogits, params, hs, cache)

    def sample(step, params):
        if step in sample_at:
            samples[step] = sample_chars(params, task.vocab, prime, sample_length, seed=seed)
        if callback:
            callback(step, params)

    sample(0, params)
    params, losses, seconds = fit(loss_and_grads, params, Adam(lr), steps, clip=clip,
                                  progress=progress, label="chars", callback=sample)
    return TrainResult(params, losses, seconds, task.vocab, samples)


# ------------------------------------------------------------------------ the adding problem

def init_adding_model(model: str = "lstm", hidden_size: int = 16, seed: int = 0,
                      dtype=np.float32) -> tuple:
    """(core, read-out) for the adding problem: 2 inputs, hidden_size units, 1 output.

    Both models get the same fair start: input weights Glorot-uniform, recurrent weights
    a random orthogonal matrix (every singular value 1, so the recurrent product neither
    shrinks nor grows h at the start; Saxe et al. 2014, Le et al. 2015), biases zero.
    model "lstm": an LSTMParams from init_params(scheme="orthogonal", forget_bias=1.0) (each
    gate its own orthogonal wh); "rnn": (wx, wh, b) for lstm_teach.rnn's vanilla tanh RNN.
    The read-out is init_model's: U(-1/sqrt(H), 1/sqrt(H)), bias zero.
    """
    if model not in ("lstm", "rnn"):
        raise ValueError(f"model must be 'lstm' or 'rnn'; got {model!r}")
    H = check_int("hidden_size", hidden_size)
    if model == "lstm":
        core = init_params(2, H, seed=seed, dtype=dtype, scheme="orthogonal", forget_bias=1.0)
    else:
        rng = np.random.default_rng(seed)
        limit = np.sqrt(6.0 / (H + 2))
        wx = rng.uniform(-limit, limit, size=(H, 2))
        q, r = np.linalg.qr(rng.standard_normal((H, H)))
        wh = q * np.sign(np.diag(r))
        core = tuple(np.asarray(a, dtype=dtype) for a in (wx, wh, np.zeros(H)))
    _, readout = init_model(2, H, 1, seed=seed, dtype=dtype)
    return core, readout


def _adding_forward(params, xs):
    core, readout = params
    if isinstance(core, LSTMParams):
        hs, cache = fast.lstm_forward(xs, core)
    else:
        hs, cache = rnn.rnn_forward(xs, *core)
    return hs[-1] @ readout["wy"].T + readout["by"], hs, cache


def adding_loss_and_grads(params, xs, ys):
    """(loss, grads) of E = mean over B of (prediction - y)^2 for one batch.

    The prediction is the read-out of the hidden state after the LAST step only, so the
    error enters at h_T and must travel back through time to the marked steps. E is the
    plain mean squared error (no 1/2), the number that 0.167 (always predicting 1) refers to.
    params: from init_adding_model; xs (T, B, 2), ys (B, 1) from datasets.adding_problem.
    """
    core, readout = params
    pred, hs, cache = _adding_forward(params, xs)
    err = pred - ys
    loss = float(np.mean(err ** 2))
    dpred = 2.0 * err / err.shape[0]                      # dE/dprediction, (B, 1)
    dhs = np.zeros_like(hs)
    dhs[-1] = dpred @ readout["wy"]
    if isinstance(core, LSTMParams):
        dcore = fast.lstm_backward(dhs, cache).params
    else:
        dcore = tuple(rnn.rnn_backward(dhs, cache)[0])
    return loss, (dcore, {"wy": dpred.T @ hs[-1], "by": dpred.sum(axis=0)})


def adding_mse(params, T: int, n: int = 1000, seed: int = 10**6) -> float:
    """Mean squared error on n fresh adding-problem sequences of length T (a test set: the
    default seed lies far from the seeds training draws from)."""
    core, _ = params
    dtype = (core.dtype if isinstance(core, LSTMParams) else core[0].dtype)
    xs, ys = adding_problem(T, check_int("n", n), seed=seed, dtype=dtype)
    pred, _, _ = _adding_forward(params, xs)
    return float(np.mean((pred.astype(np.float64) - ys) ** 2))


def train_adding(model: str = "lstm", T: int = 100, steps: int = 1500, hidden_size: int = 16,
                 B: int = 32, lr: float = 0.02, clip: float | None = 1.0, seed: int = 0,
                 dtype=np.float32, progress: bool = True) -> TrainResult:
    """Train an LSTM (on lstm_teach.fast) or a vanilla RNN (lstm_teach.rnn) on the adding
    problem with sequences of T steps.

    Each step draws B new sequences (datasets.adding_problem with seed + 1 + step); loss and
    gradients from adding_loss_and_grads; clipping at global norm `clip`, then Adam(lr).
    result.losses are training MSEs (0.167 = always predicting the mean); measure the
    trained model with adding_mse(result.params, T). Both models start as fairly as
    init_adding_model makes them.
    """
    T = check_int("T", T, minimum=2)
    params = init_adding_model(model, hidden_size, seed=seed, dtype=dtype)

    def loss_and_grads(params, step):
        xs, ys = adding_problem(T, B, seed=seed + 1 + step, dtype=dtype)
        return adding_loss_and_grads(params, xs, ys)

    params, losses, seconds = fit(loss_and_grads, params, Adam(lr), steps, clip=clip,
                                  progress=progress, label=f"adding {model} T={T}")
    return TrainResult(params, losses, seconds)
