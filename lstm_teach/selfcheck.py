"""Self-checks for the notebooks' try-it exercises: a verdict that names the usual slip.

    print(selfcheck.diagnose(your_do, truth, "dE/do",
                             slips={"the seed's sign (y - h)": -truth,
                                    "tanh(c) left out": dh}))

A wrong answer is compared, in this order, with: nothing (None), the expected shape (and its
transpose), the truth, the slips the notebook names, the truth with its sign flipped, and the
truth times a constant factor (1/2, 2, 1/N, ...). The first match is the diagnosis; an answer
that matches none gets its relative error and the notebook's hint.
"""

import numpy as np

CORRECT = "Correct!"

# Factors a learner's answer is often off by, and what each usually means.
_FACTORS = {
    0.5: "1/2 (a factor 2 lost, e.g. from the derivative of a square)",
    2.0: "2 (the 1/2 of E = 1/2 sum (h - y)^2 forgotten, or a term counted twice)",
}


def relative_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|), 0 when both are 0: scale-free, in [0, 1]."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(a) + np.abs(b)) if a.size else 0.0
    return 0.0 if scale == 0 else float(np.max(np.abs(a - b)) / scale)


def _constant_factor(answer, truth, tol):
    """The scalar k with answer = k * truth, if there is one (k != 1), else None."""
    denom = float(np.sum(truth * truth))
    if denom == 0:
        return None
    k = float(np.sum(answer * truth)) / denom
    if k == 0 or abs(k - 1) < tol:
        return None
    return k if relative_error(answer, k * truth) < tol else None


def _factor_name(k, n):
    """What a factor k usually means, or None when it is no factor a learner slips by."""
    for value, text in _FACTORS.items():
        if abs(k - value) < 1e-6 * value:
            return text
    if n > 1:
        for value, text in ((1 / n, f"1/N with N = {n} (a mean where the loss is a sum)"),
                            (float(n), f"N = {n} (a sum where the loss is a mean)"),
                            (2 / n, f"2/N with N = {n}"), (n / 2, f"N/2 with N = {n}")):
            if abs(k - value) < 1e-6 * abs(value):
                return text
    return None


def diagnose(answer, truth, name="your answer", slips=None, hint="", tol=1e-7, n=None):
    """A one-line verdict on a try-it answer.

    answer: what the learner computed (anything array-like, or None when not answered yet);
    truth: the right array; name: what it is, for the message;
    slips: {description: array} of the usual wrong answers the notebook names, in order;
    hint: what to look at when the answer matches nothing known;
    n: the N of a mean, to recognise an answer off by 1/N (default: truth.size).
    Returns CORRECT or a sentence starting "Not yet:".
    """
    if answer is None:
        return "Not answered yet: replace None with your computation and run this cell again."
    truth = np.asarray(truth, dtype=np.float64)
    if isinstance(answer, (str, bytes)):  # np.asarray("128", float) would quietly parse it
        return (f"Not yet: {name} must be a number or an array of numbers, not the text "
                f"{answer!r}: remove the quotes.")
    try:
        answer = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        return (f"Not yet: {name} must be an array of numbers; "
                f"got {type(answer).__name__}.")
    if answer.shape != truth.shape:
        if truth.ndim == 2 and answer.shape == truth.shape[::-1]:
            message = (f"Not yet: {name} has shape {answer.shape}, the transpose of the "
                       f"expected {truth.shape}. Which axis holds the batch?")
        else:
            message = f"Not yet: {name} must have shape {truth.shape}; got {answer.shape}."
        return f"{message} {hint}" if hint else message
    if not np.all(np.isfinite(answer)):
        return (f"Not yet: {name} holds nan or inf: look for a division by zero, a log of 0, "
                f"or an exp that overflowed.")
    if relative_error(answer, truth) < tol:
        return CORRECT
    for description, slip in (slips or {}).items():
        slip = np.asarray(slip, dtype=np.float64)
        if slip.shape == truth.shape and relative_error(answer, slip) < tol:
            return f"Not yet: {name} matches {description}."
    if relative_error(answer, -truth) < tol:
        return f"Not yet: {name} has the right size but the wrong sign."
    k = _constant_factor(answer, truth, tol)
    if k is not None:
        known = _factor_name(k, truth.size if n is None else n)
        # Any wrong single number is some multiple of the right one: only a known factor says
        # something there. An array off by one factor everywhere is a slip whatever the factor.
        if known is not None or truth.size > 1:
            return (f"Not yet: {name} is off by a constant factor: it is the right answer "
                    f"times {known or format(k, '.3g')}.")
    message = f"Not yet: {name} has relative error {relative_error(answer, truth):.2g}."
    return f"{message} {hint}" if hint else message
