import numpy as np
from exercise_contract import contract_tests

from course_utils.exercises import ____
from course_utils.exercises import lesson01 as ex

QUESTIONS = (ex.q1, ex.q2, ex.q3)
test_exercise_contract, test_graded_copies_refuse_every_shortcut = contract_tests(QUESTIONS)


# --- 1.1 ---------------------------------------------------------------------------------

def test_q1_accepts_reference_and_an_independent_solution():
    assert ex.q1.check(ex.per_image_mse).passed

    def loop_version(images, reconstructions):
        return [float(np.mean((a - b) ** 2)) for a, b in zip(images, reconstructions)]

    assert ex.q1.check(loop_version).passed


def test_q1_rejects_scalar_mean_sum_and_missing_square():
    scalar = ex.q1.check(lambda x, y: np.mean((x - y) ** 2))
    assert not scalar.passed and "one number per image" in scalar.message
    summed = ex.q1.check(lambda x, y: ((x - y) ** 2).reshape(len(x), -1).sum(axis=1))
    assert not summed.passed and "784 times too large" in summed.message
    absolute = ex.q1.check(lambda x, y: np.abs(x - y).reshape(len(x), -1).mean(axis=1))
    assert not absolute.passed and "Square" in absolute.message


def test_q1_root_mean_square_is_not_sent_back_to_the_squaring():
    # The squaring and averaging are right: the advice must point at the square root.
    rms = ex.q1.check(lambda x, y: np.sqrt(((x - y) ** 2).reshape(len(x), -1).mean(axis=1)))
    assert not rms.passed and "square root" in rms.message
    assert "Square the differences" not in rms.message


def test_q1_one_batch_error_repeated_per_image_is_called_out():
    def batch_mean(x, y):
        return np.full(len(x), np.mean((x - y) ** 2))

    result = ex.q1.check(batch_mean)
    assert not result.passed and "same number" in result.message


# --- 1.2 ---------------------------------------------------------------------------------

def test_q2_accepts_reference_and_a_loop():
    def loop_version(sizes):
        total = 0
        for n_in, n_out in zip(sizes, sizes[1:]):
            total += (n_in + 1) * n_out
        return total

    assert ex.q2.check(ex.dense_parameter_count).passed
    assert ex.q2.check(loop_version).passed


def test_q2_rejects_weights_only_and_off_by_layer_counts():
    weights_only = ex.q2.check(lambda s: sum(a * b for a, b in zip(s, s[1:])))
    assert not weights_only.passed and "only the weight matrices" in weights_only.message
    wrong_bias = ex.q2.check(lambda s: sum(a * b + a for a, b in zip(s, s[1:])))
    assert not wrong_bias.passed and "per input unit" in wrong_bias.message
    last_layer_missing = ex.q2.check(lambda s: sum(a * b + b for a, b in zip(s[:-2], s[1:-1])))
    assert not last_layer_missing.passed and "not right" in last_layer_missing.message


def test_q2_reference_agrees_with_keras():
    from course_utils.models.networks import build_autoencoder

    autoencoder, _, _ = build_autoencoder(2, hidden=(512, 256))
    by_hand = ex.dense_parameter_count([784, 512, 256, 2]) + \
        ex.dense_parameter_count([2, 256, 512, 784])
    assert by_hand == autoencoder.count_params()


# --- 1.3 ---------------------------------------------------------------------------------

def test_q3_accepts_reference():
    assert ex.q3.check(ex.nearest_distance).passed


def test_q3_rejects_squared_manhattan_and_wrong_reduction():
    def squared(p, c):
        return ((p[:, None] - c[None]) ** 2).sum(-1).min(1)

    def manhattan(p, c):
        return np.abs(p[:, None] - c[None]).sum(-1).min(1)

    def farthest(p, c):
        return np.sqrt(((p[:, None] - c[None]) ** 2).sum(-1)).max(1)

    assert "squared distances" in ex.q3.check(squared).message
    assert "Euclidean" in ex.q3.check(manhattan).message
    assert "keep the smallest" in ex.q3.check(farthest).message


def test_messages_do_not_contain_the_solution_code():
    for question, wrong in ((ex.q1, lambda x, y: 0.0), (ex.q3, lambda p, c: p)):
        message = question.check(wrong).message
        assert ".mean(axis=1)" not in message and "np.sqrt" not in message


# --- prediction 1.1 ------------------------------------------------------------------------

def test_p1_records_a_percentage_and_reveals_the_measurement():
    assert ex.p1.record(20).status == "recorded"
    assert ex.p1.record("many").status == "incorrect"
    held = ex.p1.reveal(25, 28.4)
    assert held.status == "held" and "28 % of the box samples" in held.message
    assert ex.p1.reveal(2, 28.4).status == "missed"
    assert ex.p1.reveal(____, 28.4).status == "not_attempted"
