"""Named augmentation presets for `Views`, built from Keras's layers, each for the data it suits.

Small, centred, upright images (Fashion-MNIST; drop the flip for digits):
a garment is always centred and upright, so large rotations, zooms and
shifts move training away from the test images. These presets keep to a
mirror image, shifts of about 2 pixels in 28, small erasures, mild noise
and label mixing.

| preset           | what                                                        | views       |
|------------------|-------------------------------------------------------------|-------------|
| `fashion_shift`  | flip + translate (7%, about 2 px of 28)                      | consistent  |
| `fashion_erase`  | fashion_shift + random erasing (2-10% of the image)          | consistent  |
| `fashion_noise`  | fashion_shift + Gaussian pixel noise (std 8 of 255)          | consistent  |
| `fashion_mixup`  | fashion_shift + MixUp, ratio ~ U[0, 1] (Beta(1, 1))          | consistent  |
| `fashion_cutmix` | fashion_shift + CutMix, ratio ~ U[0, 1]                      | consistent  |
| `fashion_dakd`   | fashion_erase, drawn independently per side                 | independent |

Natural images (photographs: CIFAR, ImageNet-like crops), where objects
appear at any position, scale and small tilt:

| preset              | what                                                   | views       |
|---------------------|--------------------------------------------------------|-------------|
| `natural_light`     | flip + translate (10%)                                 | consistent  |
| `natural_standard`  | natural_light + rotation (±18°) + zoom (10%) + erasing | consistent  |
| `randaugment`       | Keras `RandAugment` (2 ops, factor 0.5)                | consistent  |
| `function_matching` | natural_light + MixUp(alpha=1), one mixed view for both | consistent |
| `dakd`              | natural_standard, drawn independently per side         | independent |

`light` and `standard` are the earlier names of `natural_light` and
`natural_standard` and stay as aliases. `none` returns `None`.

Consistent views: the teacher and the student see the same image, the
teacher runs live on it (function matching, Beyer et al., "Knowledge
distillation: A good teacher is patient and consistent", CVPR 2022).
Independent views: each side draws its own (DAKD, see
`keras_kd.methods.DAKDDistiller`).

XLA: in Keras 3.15, `RandomTranslation`, `RandomRotation` and `RandomZoom`
(also used inside `RandAugment`) declare `supports_jit=False`, and `MixUp`
and `CutMix` sample a Beta distribution whose op has no XLA CPU kernel
(TF 2.21). Every preset but `none` uses one of them, so each trains with
`jit_compile=False` when XLA is asked for: the Distiller says so in one
warning and goes on. `RandomFlip`, `RandomErasing` and keras_kd's noise
layers compile, so custom `Views` made of them keep XLA. `xla_support()`
reports this for the installed versions.

Sources: random erasing, Zhong et al., AAAI 2020; MixUp, Zhang et al.,
ICLR 2018; CutMix, Yun et al., ICCV 2019; RandAugment, Cubuk et al., CVPR
Workshops 2020.
"""

import keras

from keras_kd.augment.noise import ImageGaussianNoise
from keras_kd.augment.views import Views

ALIASES = {"light": "natural_light", "standard": "natural_standard"}
FASHION = ("fashion_shift", "fashion_erase", "fashion_noise", "fashion_mixup", "fashion_cutmix", "fashion_dakd")
NATURAL = ("natural_light", "natural_standard", "randaugment", "function_matching", "dakd")
PRESETS = ("none", *FASHION, *NATURAL, *ALIASES)
INDEPENDENT = ("fashion_dakd", "dakd")


def _shift(seed, factor):
    return [
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(factor, factor, fill_mode="constant", seed=seed + 1),
    ]


def _erase(seed, value_range, scale):
    return keras.layers.RandomErasing(factor=0.5, scale=scale, value_range=value_range, seed=seed + 4)


def _layers(name, seed, value_range):
    """The shared layers of a consistent preset (or of one side of an independent one)."""
    if name == "fashion_shift" or name in ("fashion_mixup", "fashion_cutmix"):
        return _shift(seed, 0.07)
    if name in ("fashion_erase", "fashion_dakd"):
        return _shift(seed, 0.07) + [_erase(seed, value_range, (0.02, 0.1))]
    if name == "fashion_noise":
        return _shift(seed, 0.07) + [ImageGaussianNoise(8.0, value_range=value_range, seed=seed + 5)]
    if name in ("natural_light", "function_matching"):
        return _shift(seed, 0.1)
    if name == "randaugment":
        return [keras.layers.RandAugment(value_range=value_range, num_ops=2, factor=0.5, seed=seed)]
    return _shift(seed, 0.1) + [  # natural_standard, dakd
        keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed + 2),
        keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 3),
        _erase(seed, value_range, (0.02, 0.15)),
    ]


def _mix(name, seed):
    if name in ("fashion_mixup", "function_matching"):
        return keras.layers.MixUp(alpha=1.0, seed=seed + 10)
    if name == "fashion_cutmix":
        return keras.layers.CutMix(factor=1.0, seed=seed + 10)
    return None


def canonical(name):
    """The preset's name, aliases resolved; raises for an unknown name."""
    if name not in PRESETS:
        raise ValueError(
            f"Unknown augmentation preset {name!r}. Available: {', '.join(PRESETS)}. "
            f"For small centred images (Fashion-MNIST) use a fashion_* preset; natural_* suit photographs."
        )
    return ALIASES.get(name, name)


def is_independent(name):
    """Whether the preset draws a view per side (DAKD) rather than one for both."""
    return canonical(name) in INDEPENDENT


def get(name, *, seed=0, value_range=(0.0, 255.0), num_classes=None):
    """Builds a preset's `Views` (or `None` for `"none"`).

    Args:
        name: one of `PRESETS`.
        seed: base seed of the layers' generators. Defaults to 0.
        value_range: the images' range. Defaults to `(0, 255)`.
        num_classes: for presets that mix labels. Defaults to `None` (the
            Distiller sets it).
    """
    name = canonical(name)
    if name == "none":
        return None
    if name in INDEPENDENT:
        return Views(
            teacher=_layers(name, seed, value_range), student=_layers(name, seed + 100, value_range),
            num_classes=num_classes, name=f"views_{name}",
        )  # fmt: skip
    return Views(shared=_layers(name, seed, value_range), mix=_mix(name, seed), num_classes=num_classes, name=f"views_{name}")


def xla_support():
    """`{preset: bool}`: whether each preset's layers compile under XLA."""
    return {name: (True if name == "none" else get(name).supports_xla()) for name in PRESETS}
