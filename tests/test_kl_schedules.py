"""Tests of course_utils.models.kl_schedules: the linear warm-up and the callback applying it."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from synthetic import blob_images

from course_utils.models.kl_schedules import KLSchedule, KLWarmUp, linear_warmup
from course_utils.models.training import train_vae
from course_utils.models.vae import build_dense_vae


def _vae(**options):
    keras.utils.set_random_seed(0)
    return build_dense_vae(2, hidden=(16,), seed=0, **options)


def test_linear_warmup_starts_rises_in_equal_steps_and_stays():
    values = [linear_warmup(epoch, 4) for epoch in range(7)]
    assert values == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert linear_warmup(1, 2, start=0.2, end=1.0) == pytest.approx(0.6)
    assert linear_warmup(0, 1) == 0.0 and linear_warmup(1, 1) == 1.0


@pytest.mark.parametrize("args, error", [((-1, 4), ValueError), ((1.5, 4), TypeError),
                                         ((1, 0), ValueError), ((1, 4, -0.1), ValueError),
                                         ((1, 4, 0.0, float("inf")), ValueError)])
def test_linear_warmup_refuses_bad_arguments(args, error):
    with pytest.raises(error):
        linear_warmup(*args)


def test_warmup_callback_sets_the_weight_each_epoch_and_the_logs_follow():
    images = blob_images(48)
    vae = _vae(kl_weight=0.0)
    warm_up = KLWarmUp(2)
    history = train_vae(vae, images, epochs=4, batch_size=16, validation_split=0.0,
                        verbose=0, callbacks=[warm_up])
    assert warm_up.values == [0.0, 0.5, 1.0, 1.0]
    assert vae.kl_weight == 1.0
    logs = history.history
    weighted = np.asarray(logs["kl_loss"])
    rate = np.asarray(logs["rate"])
    np.testing.assert_allclose(weighted, np.asarray(warm_up.values) * rate, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], np.asarray(logs["reconstruction_loss"]) + weighted,
                               rtol=1e-5)


def test_schedule_callback_takes_any_function_and_checks_its_values():
    images = blob_images(32)
    vae = _vae(kl_weight=0.0)
    schedule = KLSchedule(lambda epoch: 0.1 * epoch)
    train_vae(vae, images, epochs=3, batch_size=16, validation_split=0.0, verbose=0,
              callbacks=[schedule])
    assert schedule.values == pytest.approx([0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match=r"schedule\(0\)"):
        train_vae(vae, images, epochs=1, batch_size=16, validation_split=0.0, verbose=0,
                  callbacks=[KLSchedule(lambda epoch: -1.0)])
    with pytest.raises(TypeError, match=r"schedule\(0\)"):
        train_vae(vae, images, epochs=1, batch_size=16, validation_split=0.0, verbose=0,
                  callbacks=[KLSchedule(lambda epoch: None)])


def test_schedule_refuses_a_plain_elbo_vae_and_non_callables():
    with pytest.raises(TypeError, match="function of the epoch"):
        KLSchedule(0.5)
    with pytest.raises(ValueError, match="kl_weight=0.0"):
        train_vae(_vae(), blob_images(16), epochs=1, batch_size=16, validation_split=0.0,
                  verbose=0, callbacks=[KLWarmUp(2)])
    with pytest.raises(TypeError, match="list of keras callbacks"):
        train_vae(_vae(kl_weight=0.0), blob_images(16), epochs=1, validation_split=0.0,
                  verbose=0, callbacks=KLWarmUp(2))
