"""On-device augmentation for distillation: teacher and student views."""

from keras_kd.augment import presets
from keras_kd.augment.mix import joint_mix
from keras_kd.augment.noise import ImageGaussianNoise
from keras_kd.augment.noise import SaltAndPepper
from keras_kd.augment.views import Views
