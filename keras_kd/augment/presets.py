"""Named augmentation presets for `Views`, built from Keras's layers.

| preset              | what                                              | views       | XLA |
|---------------------|---------------------------------------------------|-------------|-----|
| `none`              | no augmentation (returns `None`)                  | -           | yes |
| `light`             | flip + translate (10%)                            | consistent  | falls back |
| `standard`          | light + rotation (±18°) + zoom (10%) + erasing    | consistent  | falls back |
| `randaugment`       | Keras `RandAugment` (2 ops, factor 0.5)           | consistent  | falls back |
| `function_matching` | light + MixUp(alpha=1), teacher and student on the same mixed view | consistent | falls back |
| `dakd`              | standard, drawn independently per side            | independent | falls back |

XLA: in Keras 3.15, `RandomTranslation`, `RandomRotation` and `RandomZoom`
(also used inside `RandAugment`) declare `supports_jit=False`, and `MixUp`
and `CutMix` sample a Beta distribution whose op has no XLA CPU kernel
(TF 2.21). Every preset uses one of them, so each trains with
`jit_compile=False` when XLA is asked for: the Distiller says so in one
warning and goes on. `RandomFlip`, `RandomErasing` and keras_kd's noise
layers compile, so custom `Views` made of them keep XLA. `xla_support()`
reports this for the installed versions.

Where they come from:

- `light` / `standard`: the usual small-image recipes (flips, shifts,
  small rotations and zooms; random erasing from Zhong et al., AAAI 2020).
- `randaugment`: Cubuk et al., "RandAugment", CVPR Workshops 2020.
- `function_matching`: Beyer et al., "Knowledge distillation: A good
  teacher is patient and consistent", CVPR 2022: the teacher and the
  student see the *same* aggressively mixed view.
- `dakd`: data-augmentation KD (described in `keras_kd.methods.dakd`): the
  two models see *different* augmentations of each image, tied by a
  consistency loss (see `keras_kd.methods.DAKDDistiller`).

Horizontal flips suit Fashion-MNIST's garments; pass your own layers for
data where orientation matters.
"""

import keras

from keras_kd.augment.views import Views

PRESETS = ("none", "light", "standard", "randaugment", "function_matching", "dakd")


def _light(seed, value_range):
    return [
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed + 1),
    ]


def _standard(seed, value_range):
    return _light(seed, value_range) + [
        keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed + 2),
        keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 3),
        keras.layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), value_range=value_range, seed=seed + 4),
    ]


def get(name, *, seed=0, value_range=(0.0, 255.0), num_classes=None):
    """Builds a preset's `Views` (or `None` for `"none"`).

    Args:
        name: one of `PRESETS`.
        seed: base seed of the layers' generators. Defaults to 0.
        value_range: the images' range. Defaults to `(0, 255)`.
        num_classes: for presets that mix labels. Defaults to `None` (the
            Distiller sets it).
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown augmentation preset {name!r}. Available: {', '.join(PRESETS)}.")
    if name == "none":
        return None
    if name == "light":
        return Views(shared=_light(seed, value_range), num_classes=num_classes, name="views_light")
    if name == "standard":
        return Views(shared=_standard(seed, value_range), num_classes=num_classes, name="views_standard")
    if name == "randaugment":
        layer = keras.layers.RandAugment(value_range=value_range, num_ops=2, factor=0.5, seed=seed)
        return Views(shared=[layer], num_classes=num_classes, name="views_randaugment")
    if name == "function_matching":
        return Views(
            shared=_light(seed, value_range), mix=keras.layers.MixUp(alpha=1.0, seed=seed + 10),
            num_classes=num_classes, name="views_function_matching",
        )  # fmt: skip
    return Views(
        teacher=_standard(seed, value_range), student=_standard(seed + 100, value_range),
        num_classes=num_classes, name="views_dakd",
    )  # fmt: skip


def xla_support():
    """`{preset: bool}`: whether each preset's layers compile under XLA."""
    return {name: (True if name == "none" else get(name).supports_xla()) for name in PRESETS}
