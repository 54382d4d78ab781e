import keras
import pytest

from keras_kd import losses
from keras_kd import training
from keras_kd.methods import function_matching
from tests import models


class _Spy(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seen = self.model


def _data(n=32):
    x, y = models.quadrant_images(n, 8, background=50.0, bright=150.0)
    return (x, y), None, (x[:16], y[:16])


def test_the_recipe_is_kl_only_clipped_consistent_and_mixed():
    spy = _Spy()
    config = training.TrainConfig(epochs=1, batch_size=8, verbose=0)
    result = function_matching(models.cnn(8, "teacher"), lambda: models.cnn(4, "student"), _data(), config, callbacks=[spy])
    distiller = spy.seen
    assert distiller.student_loss_weight == 0.0 and distiller.optimizer.global_clipnorm == 1.0
    (slot,) = distiller._slots
    assert isinstance(slot.term, losses.KD) and slot.term.temperature == 1.0
    assert not distiller.views.independent and isinstance(distiller.views.mix, keras.layers.MixUp)
    assert result.model.name == "student" and 0.0 <= result.test_accuracy <= 1.0


@pytest.mark.parametrize("views", ["fashion_dakd", "none"])
def test_the_recipe_refuses_views_that_are_not_consistent_augmentation(views):
    config = training.TrainConfig(epochs=1, verbose=0)
    with pytest.raises(ValueError, match="consistent, augmented views"):
        function_matching(models.cnn(8, "teacher"), lambda: models.cnn(4, "student"), _data(), config, views=views)
