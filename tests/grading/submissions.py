"""What the grade check submits for each exercise, besides the solution and a blank.

For every question of every lesson:

* ``mistake``: one typical wrong answer, taken from the wrong answers that the
  checker tests (``tests/test_exercises_lessonNN.py``) already use, with ``phrase``, a
  piece of the advice the checker gives for it;
* ``shortcuts``: answers that write nothing of their own: the reference, a wrapper
  of it, a ``functools.partial``, what ``resolve`` falls back to, or the course_utils
  function that computes the same thing. Each one passes in self-study mode (so it
  is a real shortcut) and must be refused in graded mode. ``make grade-check`` submits
  the first one; ``tests/grading/test_submissions.py`` tries them all.

An :class:`Answer` either replaces the solution region of the lesson's answer cell
(``body``, indented like the region) or keeps the cell and rebinds the answer's name
after it (``after``), so that the rest of the cell (imports, scaffolding) stays. A
question is written ``_question(phrase, mistake, *shortcuts)``: the mistake is always a
body, given as its code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """Code for one answer cell: ``body`` replaces the solution region, ``after`` follows."""

    body: str | None = None
    after: str | None = None

    def __post_init__(self) -> None:
        if (self.body is None) == (self.after is None):
            raise ValueError("an Answer has either a body or an after, not both or neither")


@dataclass(frozen=True)
class Question:
    """The submissions for one exercise (see the module docstring)."""

    mistake: Answer
    phrase: str
    shortcuts: tuple[Answer, ...]


def _body(code: str) -> Answer:
    return Answer(body=code.strip("\n"))


def _after(code: str) -> Answer:
    return Answer(after=code.strip("\n"))


def _question(phrase: str, mistake: str, *shortcuts: Answer) -> Question:
    """The advice ``phrase``, the mistake's code (a body), then the shortcuts."""
    return Question(mistake=_body(mistake), phrase=phrase, shortcuts=shortcuts)


_HIDDEN = ('import sys\n'
           'return getattr(sys.modules["course_utils.exercises.{module}"], "{name}")({args})')


def _hidden(module: str, name: str, args: str) -> Answer:
    """A call that no code scan sees: only the call recording can catch it."""
    return _body(_HIDDEN.format(module=module, name=name, args=args))


LESSONS: dict[str, dict[str, Question]] = {
    "lesson01": {
        "q1": _question("784 times too large", """
squared = (np.asarray(images) - np.asarray(reconstructions)) ** 2
return squared.reshape(len(squared), -1).sum(axis=1)
""",
            _after("my_per_image_mse = ex.q1.reference"),
            _body("""
from course_utils.evaluation.reconstruction import reconstruction_mse
return reconstruction_mse(images, reconstructions)
"""),
            _body("return reconstruction_mse(images, reconstructions)")),
        "q2": _question("only the weight matrices", """
sizes = list(layer_sizes)
return sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
""",
            _after("import functools\n\n"
                   "my_parameter_count = functools.partial(ex.dense_parameter_count)"),
            _body("return ex.dense_parameter_count(layer_sizes)"),
            _hidden("lesson01", "dense_parameter_count", "layer_sizes")),
        "q3": _question("squared distances", """
differences = np.asarray(points)[:, None, :] - np.asarray(codes)[None, :, :]
return (differences ** 2).sum(axis=-1).min(axis=1)
""",
            _body("""
from course_utils.latent.sampling import nearest_code_distance
return nearest_code_distance(points, codes)
"""),
            _after("my_nearest_distance = lambda points, codes: ex.nearest_distance("
                   "points, codes)")),
    },
    "lesson02": {
        "q1": _question("scale with 1/latent_dim",
            "return -0.5 * np.mean(1 + log_var - mean**2 - np.exp(log_var), axis=-1)",
            _body("return kl_divergence_standard_normal(mean, log_var)"),
            _after("my_kl = ex.q1.reference"),
            _body("""
identity = np.broadcast_to(np.eye(mean.shape[1]), (len(mean), mean.shape[1], mean.shape[1]))
return gaussian_kl(mean, diagonal_covariance(log_var), np.zeros_like(mean), identity)
"""),
            _body("""
from course_utils.latent.usage import kl_per_dimension
return np.array([kl_per_dimension(mean[i:i + 1], log_var[i:i + 1]).sum()
                 for i in range(len(mean))])
""")),
        "q2": _question("still has the bug", "return mean + np.exp(log_var) * eps",
            _body("return ex.sample_z(mean, log_var, eps)"),
            _hidden("lesson02", "sample_z", "mean, log_var, eps")),
        "q3": _question("scale with 1/latent_dim", """
per_example = -0.5 * np.mean(1 + log_var - np.square(mean) - np.exp(log_var), axis=-1)
return np.mean(per_example)
""",
            _body("return float(np.mean(ex.q1.resolve(None)(mean, log_var)))"),
            _body("return float(np.mean(kl_divergence_standard_normal(mean, log_var)))"),
            _after("my_kl_loss = lambda mean, log_var: ex.kl_loss(mean, log_var)")),
        "q4": _question("averaged over pixels", "return 5e-4 * 2 / latent_dim",
            _body("""
from course_utils.elbo.likelihoods import implied_kl_weight
return implied_kl_weight(pixel_count, reduction="mean", kl_weight=1e-3 / latent_dim)
"""),
            _after("my_implied_beta = ex.implied_beta"),
            _hidden("lesson02", "implied_beta", "latent_dim, pixel_count")),
        "q5": _question("other direction", """
posterior_mean, posterior_cov = model.posterior(x)
return gaussian_kl(posterior_mean, posterior_cov, q_mean, diagonal_covariance(q_log_var))
""",
            # Calling the base class's methods gets past the checker's guarded model.
            _body("return (LinearGaussianModel.log_evidence(model, x)\n"
                  "        - LinearGaussianModel.elbo(model, x, q_mean, q_log_var))"),
            _after("my_elbo_gap = ex.elbo_gap")),
    },
    "lesson03": {
        "q1": _question("shared by the whole batch", """
eps = keras.random.normal((1, ops.shape(z_mean)[1]))
return z_mean + ops.exp(0.5 * z_log_var) * eps
""",
            _after("my_sample = ex.sample"),
            _after("from course_utils.models.layers import Sampling\n\n"
                   "sampling_layer = Sampling()\n"
                   "my_sample = lambda z_mean, z_log_var: sampling_layer([z_mean, z_log_var])"),
            _hidden("lesson03", "sample", "z_mean, z_log_var")),
        "q2": _question("784 times too small", """
per_pixel = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
reconstruction = ops.mean(ops.reshape(per_pixel, (ops.shape(x)[0], -1)), axis=1)
kl = 0.5 * ops.sum(ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=1)
reconstruction_loss, kl_loss = ops.mean(reconstruction), ops.mean(kl)
return {"loss": reconstruction_loss + kl_loss,
        "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}
""",
            _body("""
from course_utils.elbo.losses import negative_elbo
return negative_elbo(x, logits, z_mean, z_log_var)
"""),
            _after("my_vae_loss = ex.vae_loss"),
            _hidden("lesson03", "vae_loss", "x, logits, z_mean, z_log_var")),
        "q3": _question("not the encoder", """
z_mean, z_log_var = encoder(x, training=True)
z = sample(z_mean, z_log_var)
with tf.GradientTape() as tape:
    logits = decoder(z, training=True)
    terms = loss(x, logits, z_mean, z_log_var)
weights = encoder.trainable_variables + decoder.trainable_variables
gradients = tape.gradient(terms["loss"], weights)
optimizer.apply(gradients, weights)
return terms
""",
            _after("my_train_step = ex.train_step"),
            _hidden("lesson03", "train_step", "encoder, decoder, optimizer, x, sample, loss")),
        "q4": _question("upside down", "return reconstruction_weight / n_pixels",
            _body("""
from course_utils.elbo.likelihoods import implied_kl_weight
return implied_kl_weight(n_pixels, reconstruction_weight=reconstruction_weight)
"""),
            _after("my_implied_kl_weight = ex.q4.reference")),
    },
    "lesson04": {
        "q1": _question("standard deviation", """
x = np.asarray(x, dtype=np.float64)
z = z_mean + np.exp(z_log_var) * eps
logits = np.asarray(decode(z), dtype=np.float64)
per_pixel = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)
return per_pixel.reshape(len(x), -1).sum(axis=1) + kl
""",
            _after("my_per_image_nelbo = ex.per_image_nelbo"),
            _body("""
from course_utils.elbo.losses import bernoulli_nll_from_logits, kl_divergence_standard_normal
z = z_mean + np.exp(0.5 * z_log_var) * eps
return (np.asarray(bernoulli_nll_from_logits(x, decode(z)))
        + np.asarray(kl_divergence_standard_normal(z_mean, z_log_var)))
"""),
            _hidden("lesson04", "per_image_nelbo", "x, z_mean, z_log_var, eps, decode")),
        "q2": _question("still ends in a ReLU",
            'outputs = layers.Conv2DTranspose(1, 3, padding="same", activation="relu")(x)',
            _after("my_conv_decoder = lambda latent_dim: "
                   "build_conv_vae(latent_dim).decoder"),
            _body("""
from course_utils.models.networks import build_conv_decoder
return build_conv_decoder(latent_dim)
"""),
            _after("my_conv_decoder = ex.fixed_conv_decoder")),
        "q3": _question("channel axis", """
bce = keras.losses.binary_crossentropy(x, logits, from_logits=True)
return float(keras.ops.mean(keras.ops.sum(bce, axis=(1, 2))))
""",
            _body("return float(np.mean(bernoulli_nll_from_logits(x, logits)))"),
            _after("my_reconstruction_loss = ex.q3.reference")),
    },
    "lesson05": {
        "q1": _question("normalising constant is missing", """
per_pixel = (np.asarray(x) - np.asarray(mean)) ** 2 / (2 * sigma**2)
return per_pixel.reshape(len(per_pixel), -1).sum(axis=1)
""",
            _body("return np.asarray(gaussian_nll(x, mean, math.log(sigma)))"),
            _after("my_gaussian_nll = ex.gaussian_nll")),
        "q2": _question("overflows",
            "return np.log(np.mean(np.exp(np.asarray(log_weights)), axis=1))",
            _body("return bounds_by_k(log_weights, (np.shape(log_weights)[1],))[0][0]"),
            _after("my_iw_bound = ex.iw_bound")),
        "q3": _question("exactly 0 or 1", """
x = np.asarray(images, dtype=np.float64)
with np.errstate(all="ignore"):
    entropy = -(x * np.log(x) + (1 - x) * np.log(1 - x))
return entropy.reshape(len(x), -1).sum(axis=1)
""",
            _body("return bernoulli_entropy_floor(images)"),
            _body("""
p = np.clip(np.asarray(images, dtype=np.float64), 1e-12, 1 - 1e-12)
return np.asarray(bernoulli_nll_from_logits(images, np.log(p) - np.log1p(-p)))
"""),
            _after("my_bce_floor = ex.bce_floor")),
        "q4": _question("variance",
            "return float(np.mean((np.asarray(images) - np.asarray(reconstructions)) ** 2))",
            _body("return max_likelihood_sigma(images, reconstructions)"),
            _after("my_best_sigma = lambda *args: ex.best_sigma(*args)")),
    },
    "lesson06": {
        "q1": _question("ONE coordinate",
            "return NormalDist().cdf(half_width) - NormalDist().cdf(-half_width)",
            _after("my_box_prior_mass = ex.q1.reference"),
            _body("return ex.q1.resolve(None)(half_width, latent_dim)")),
        "q2": _question("is itself", """
def distances(points, others):
    return np.sqrt(((points[:, None, :] - others[None, :, :]) ** 2).sum(axis=-1))

radius = np.quantile(distances(codes, codes).min(axis=1), 0.99)
return float(np.mean(distances(samples, codes).min(axis=1) > radius))
""",
            _after("my_hole_fraction = ex.hole_share"),
            _body("""
between = np.sqrt(((codes[:, None, :] - codes[None, :, :]) ** 2).sum(axis=-1))
np.fill_diagonal(between, np.inf)
radius = np.quantile(between.min(axis=1), 0.99)
return float(np.mean(nearest_code_distance(samples, codes) > radius))
"""),
            _body("return ex.q2.resolve(None)(samples, codes)")),
        "q3": _question("Subtract the mean", """
variances = np.linalg.svd(codes, compute_uv=False) ** 2
return variances / variances.sum()
""",
            _body("return ex.explained_variance_ratio(codes)"),
            _after("import functools\n\n"
                   "my_explained_variance_ratio = "
                   "functools.partial(ex.explained_variance_ratio)")),
    },
    "lesson07": {
        "q1": _question("not keep growing", "return epoch / warmup_epochs",
            _body("""
from course_utils.models.kl_schedules import linear_warmup
return linear_warmup(epoch, warmup_epochs)
"""),
            _after("my_warmup_weight = ex.warmup_weight")),
        "q2": _question("the floor is missing", """
mean = np.asarray(z_mean, dtype=np.float64)
log_var = np.asarray(z_log_var, dtype=np.float64)
return float(np.sum(np.mean(0.5 * (mean**2 + np.exp(log_var) - 1 - log_var), axis=0)))
""",
            _body("""
term, _ = free_bits_kl(z_mean, z_log_var, free_bits)
return float(term)
"""),
            _after("my_free_bits_kl = ex.q2.reference")),
        "q3": _question("VARIANCE",
            "return int(np.sum(np.std(np.asarray(z_mean), axis=0) > threshold))",
            _body("return active_units(z_mean, threshold)"),
            _after("import functools\n\n"
                   "my_active_units = functools.partial(ex.count_active_units)")),
    },
    "lesson08": {
        "q1": _question("underflows", """
log_w = np.asarray(log_w, dtype=np.float64)
return np.log(np.mean(np.exp(log_w), axis=1))
""",
            _body("""
from course_utils.evaluation.importance_weighting import log_mean_exp
return log_mean_exp(log_w)
"""),
            _body("return bounds_by_k(log_w, [np.shape(log_w)[1]])[0][0]"),
            _after("my_log_mean_exp = ex.q1.reference")),
        "q2": _question("whole gap", """
row = np.asarray(x, dtype=np.float64).reshape(1, -1)
return float(model.log_evidence(row)[0] - model.elbo(row, *model.columnwise_encoder(row))[0])
""",
            _after("my_amortisation_gap = ex.amortisation_gap"),
            _body("return ex.q2.resolve(None)(model, x)")),
        "q3": _question("converted units", "return nll_nats / (dims * math.log(2))",
            _body("return float(bits_per_dim(nll_nats, dims, levels=levels))"),
            _after("my_bits_per_dim = ex.bits_per_dim")),
    },
}
