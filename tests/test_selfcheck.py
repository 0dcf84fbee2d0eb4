"""The try-its' self-checks name the usual slips: a verdict for each known kind of wrong answer."""

import numpy as np
import pytest

from lstm_teach.selfcheck import CORRECT, diagnose, relative_error

TRUTH = np.random.default_rng(0).standard_normal((3, 4))


def test_the_right_answer_and_a_rounding_away_from_it_pass():
    assert diagnose(TRUTH.copy(), TRUTH) == CORRECT
    assert diagnose(TRUTH * (1 + 1e-12), TRUTH) == CORRECT


@pytest.mark.parametrize("answer, words", [
    (None, "Not answered yet"),
    (TRUTH.T, "the transpose of the expected (3, 4)"),
    (TRUTH[:2], "must have shape (3, 4); got (2, 4)"),
    ("128", "not the text '128': remove the quotes"),
    (-TRUTH, "wrong sign"),
    (0.5 * TRUTH, "times 1/2"),
    (2 * TRUTH, "times 2 (the 1/2 of E"),
    (TRUTH / TRUTH.size, "1/N with N = 12"),
    (3.7 * TRUTH, "times 3.7"),
    (np.full((3, 4), np.nan), "holds nan or inf"),
])
def test_each_kind_of_slip_is_named(answer, words):
    verdict = diagnose(answer, TRUTH, "dE/do")
    assert verdict.startswith(("Not yet", "Not answered")) and words in verdict, verdict


def test_named_slips_come_before_the_generic_verdict_and_in_order():
    slips = {"tanh(c) left out": TRUTH + 1, "the forget gate's dz": TRUTH + 2}
    assert (diagnose(TRUTH + 2, TRUTH, "dE/do", slips)
            == "Not yet: dE/do matches the forget gate's dz.")
    verdict = diagnose(TRUTH + 0.3, TRUTH, "dE/do", slips, hint="Chain rule.")
    assert verdict.endswith("Chain rule.") and "relative error 0." in verdict


def test_a_single_wrong_number_is_a_factor_only_when_the_factor_means_something():
    assert "relative error" in diagnose(100, 128, "H", hint="Count again.")
    assert diagnose(100, 128, "H", hint="Count again.").endswith("Count again.")
    assert "times 1/2" in diagnose(64, 128, "H")


def test_nothing_is_written_into_the_arguments():
    answer, truth = 2 * TRUTH, TRUTH.copy()
    before = answer.copy()
    diagnose(answer, truth)
    assert np.array_equal(answer, before) and np.array_equal(truth, TRUTH)


def test_relative_error_is_scale_free_and_zero_for_zeros():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(1e6 * TRUTH, -1e6 * TRUTH) == pytest.approx(1.0)
