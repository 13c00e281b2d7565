"""Exercises for lesson 01 (the autoencoder baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from course_utils.evaluation import reconstruction as evaluation
from course_utils.exercises import core
from course_utils.exercises.core import Exercise, Prediction, expect
from course_utils.latent import sampling as latent

__all__ = ["p1", "q1", "q2", "q3"]


# --- prediction 1.1: how many box samples land in holes? ---------------------------------

def _explain_box_holes(measured: float) -> str:
    return (f"{measured:.0f} % of the box samples fell in holes; the threshold puts 1 % "
            "of the test codes in holes, and codes of real images land there about as "
            "rarely. The box is the "
            "smallest rectangle around the test codes, but the codes fill it unevenly: "
            "arms, dense cores, empty corners. A uniform draw ignores where the codes are, "
            "so it lands in the empty parts in proportion to their area.")


p1 = Prediction("Prediction 1.1: what percentage of box samples lands in a hole?", tolerance=0.5,
                explanation=_explain_box_holes)


# --- 1.1 per-image reconstruction error -------------------------------------------------

def per_image_mse(images: ArrayLike, reconstructions: ArrayLike) -> np.ndarray:
    """Mean squared error of each image, averaged over its pixels: shape (n,)."""
    images = np.asarray(images, dtype=np.float64)
    reconstructions = np.asarray(reconstructions, dtype=np.float64)
    squared = (images - reconstructions) ** 2
    return squared.reshape(len(images), -1).mean(axis=1)


def _check_per_image_mse(answer: Any) -> None:
    core.expect_callable(answer, "my_per_image_mse", 1)
    rng = np.random.default_rng(11)
    images = rng.uniform(size=(6, 28, 28, 1))
    reconstructions = rng.uniform(size=(6, 28, 28, 1))
    got = core.as_numbers(answer(images, reconstructions), "one number per image")
    want = per_image_mse(images, reconstructions)
    core.expect_shape(got, want.shape, "one number per image",
                 "Reduce over every axis except the first (the batch).")
    absolute = np.abs(images - reconstructions).reshape(len(images), -1).mean(axis=1)
    core.compare(got, want,
            "Right shape, wrong values. For each image, take the mean over all of its "
            "pixels of (image - reconstruction) squared.",
            mistakes=[
                (want * 784,
                 "Your values are 784 times too large: average over pixels, do not sum."),
                (np.sqrt(want),
                 "These are the square roots of the right values (root-mean-square "
                 "errors). Squaring and averaging are right; leave out the square root."),
                (absolute,
                 "These are mean absolute differences. Square the differences before "
                 "averaging them."),
                (np.full_like(want, want.mean()),
                 "Every image gets the same number: the error of the whole batch. Average "
                 "over each image's own pixels only."),
            ])
    same = per_image_mse(images[:1], images[:1])
    expect(core.close(answer(images[:1], images[:1]), same, rtol=1e-5),
           "A perfect reconstruction should give an error of exactly 0.")


q1 = Exercise(
    "Exercise 1.1: per-image reconstruction error",
    _check_per_image_mse,
    per_image_mse,
    hints=(
        "The result has one entry per image: shape (n,).",
        "Flatten each image with `.reshape(len(images), -1)` and take the mean along axis 1.",
    ),
    forbidden=(evaluation.reconstruction_mse,),
)


# --- 1.2 counting parameters -------------------------------------------------------------

def dense_parameter_count(layer_sizes: Sequence[int]) -> int:
    """Weights plus biases of a stack of Dense layers with these widths."""
    sizes = list(layer_sizes)
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _check_dense_parameter_count(answer: Any) -> None:
    core.expect_callable(answer, "my_count", 2)
    for sizes in ([784, 512, 256, 2], [2, 256, 512, 784], [3, 1], [10, 7, 5, 3, 2]):
        got = answer(sizes)
        want = dense_parameter_count(sizes)
        weights_only = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        expect(got != weights_only,
               f"For widths {sizes} you count only the weight matrices. Each Dense "
               "unit also has one more parameter.")
        input_biases = sum(a * b + a for a, b in zip(sizes[:-1], sizes[1:]))
        expect(got != input_biases or want == input_biases,
               f"For widths {sizes} you count one bias per input unit of each layer. The "
               "weights are right; a Dense layer's biases belong to its output units.")
        expect(got == want,
               f"For widths {sizes} the count is not right (got {got}). A Dense layer "
               "from n_in to n_out units has a weight per input-output pair, plus extras.")


q2 = Exercise(
    "Exercise 1.2: count the parameters of a dense network",
    _check_dense_parameter_count,
    dense_parameter_count,
    hints=(
        "Count layer by layer: a Dense layer connects consecutive widths n_in -> n_out.",
        "A Dense layer has an n_in x n_out weight matrix and a bias vector of length n_out.",
    ),
    forbidden=(),  # course_utils has no parameter count of its own
)


# --- 1.3 distance to the nearest code ----------------------------------------------------

def nearest_distance(points: ArrayLike, codes: ArrayLike) -> np.ndarray:
    """Euclidean distance from each point to its nearest code: shape (n,)."""
    points = np.asarray(points, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.float64)
    differences = points[:, None, :] - codes[None, :, :]
    return np.sqrt((differences ** 2).sum(axis=-1)).min(axis=1)


def _same_distances(got: ArrayLike, want: ArrayLike) -> bool:
    """Distances that agree, compared through their squares to within 0.05.

    The slack covers a right answer computed as ``|p|^2 + |c|^2 - 2 p.c`` with TF32
    matrix products (TensorFlow's default for float32 on recent GPUs): on these inputs
    its squares are off by up to 0.01. Every mistake looked for is far larger.
    """
    return core.close(np.square(got), np.square(want), rtol=1e-4, atol=0.05)


def _check_nearest_distance(answer: Any) -> None:
    core.expect_callable(answer, "my_distance", 3)
    rng = np.random.default_rng(3)
    points = rng.normal(size=(7, 2)) * 3
    codes = rng.normal(size=(40, 2))
    got = core.as_numbers(answer(points, codes), "one distance per point")
    want = nearest_distance(points, codes)
    core.expect_shape(got, want.shape, "one distance per point")
    expect(not core.close(got, want ** 2, rtol=1e-4, atol=0.05),  # see _same_distances
           "These look like squared distances: take the square root.")
    manhattan = np.abs(points[:, None, :] - codes[None, :, :]).sum(-1).min(axis=1)
    expect(not core.close(got, manhattan, rtol=1e-4),
           "These are sums of absolute differences; the task asks for Euclidean distance.")
    expect(_same_distances(got, want),
           "Right shape, wrong values: for each point, compute its distance to every "
           "code, then keep the smallest.")
    itself = core.as_numbers(answer(codes[:3], codes), "one distance per point")
    expect(_same_distances(itself, np.zeros(3)),
           "A point that is itself a code should be at distance 0.")


q3 = Exercise(
    "Exercise 1.3: how far is a sample from the data?",
    _check_nearest_distance,
    nearest_distance,
    hints=(
        "Broadcasting `points[:, None, :] - codes[None, :, :]` gives every difference "
        "at once, shape (n, m, d).",
        "Sum the squared differences over the last axis, take the square root, then the "
        "minimum over the codes' axis.",
    ),
    forbidden=(latent.nearest_code_distance,),
)
