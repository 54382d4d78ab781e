"""Reference teacher and student CNNs for Fashion-MNIST-sized images.

Sized for a 2-core CPU, where convolutions at full resolution dominate the
cost and dense layers are cheap: both models pool early and put capacity
where it is cheap. Measured with TF 2.21 on 2 cores at batch 128 (one epoch
of the 55k training images, validation included; `keras_kd.profiling`
counts the MACs):

| model           | params | MACs / image | s / epoch |
|-----------------|-------:|-------------:|----------:|
| `teacher_cnn()` |  3.49M |        24.2M |       ~31 |
| `student_cnn()` | 90,090 |        1.54M |        ~8 |
| `student_convnet()` | 97,474 |        9.4M | (unmeasured) |

`segmenter()` is the pair for the segmentation mosaics. All take raw pixels in [0, 255] (a `Rescaling` layer divides by 255) and
return logits. Layers carry stable names (`block1`, ..., `features`,
`logits`) so feature taps can name them.
"""

import keras
from keras import layers


def _conv_bn_relu(x, filters, name):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=name)(x)


def teacher_cnn(input_shape=(28, 28, 1), num_classes=10, *, dropout=0.4, name="teacher_cnn"):
    """The reference teacher: 5 conv-BN-ReLU blocks and a 512-unit head.

    24 filters at full resolution, 2 x 64 at 1/2, 2 x 128 at 1/4, then
    dropout, Dense(512), dropout and the logits.

    Args:
        input_shape: defaults to `(28, 28, 1)`.
        num_classes: defaults to 10.
        dropout: rate of both dropout layers. Defaults to 0.4.
        name: defaults to `"teacher_cnn"`.

    Returns:
        A functional `keras.Model` returning logits.
    """
    inputs = keras.Input(input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = _conv_bn_relu(x, 24, "block1")
    x = layers.MaxPooling2D(name="pool1")(x)
    x = _conv_bn_relu(x, 64, "block2a")
    x = _conv_bn_relu(x, 64, "block2")
    x = layers.MaxPooling2D(name="pool2")(x)
    x = _conv_bn_relu(x, 128, "block3a")
    x = _conv_bn_relu(x, 128, "block3")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(512, activation="relu", name="features")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def student_cnn(input_shape=(28, 28, 1), num_classes=10, *, width=16, hidden=48, name="student_cnn"):
    """The reference student: 3 narrow conv-BN-ReLU blocks and a dense head.

    `width` filters at full resolution, 2x`width` at 1/2 and at 1/4, then
    flatten, Dense(`hidden`) and the logits. The flattened 7x7 map keeps the
    spatial layout at little cost (dense layers are cheap on CPUs; the
    convolutions are not). Every op maps to an int8 LiteRT builtin.

    With the defaults: 90k parameters, 1.5M MACs per image.

    Args:
        input_shape: defaults to `(28, 28, 1)`.
        num_classes: defaults to 10.
        width: filters of the first block. Defaults to 16.
        hidden: units of the hidden dense layer. Defaults to 48.
        name: defaults to `"student_cnn"`.

    Returns:
        A functional `keras.Model` returning logits.
    """
    inputs = keras.Input(input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = _conv_bn_relu(x, width, "block1")
    x = layers.MaxPooling2D(name="pool1")(x)
    x = _conv_bn_relu(x, 2 * width, "block2")
    x = layers.MaxPooling2D(name="pool2")(x)
    x = _conv_bn_relu(x, 2 * width, "block3")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(hidden, activation="relu", name="features")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def student_convnet(input_shape=(28, 28, 1), num_classes=10, *, filters=(24, 48, 48, 64, 64), name="student_convnet"):
    """A sub-100k student that spends its parameters on convolutions.

    One conv-BN-ReLU block at full resolution (`filters[0]`), two at 1/2
    (`filters[1:3]`), two at 1/4 (`filters[3:]`), then global average
    pooling (`features`) and the logits: no large dense layer, so almost
    every parameter is a 3x3 filter. Ten times `student_cnn`'s arithmetic
    for the same parameter budget. Every op maps to an int8 LiteRT builtin
    (BatchNorm folds into the convolutions on export).

    With the defaults: 97,474 parameters (992 of them BatchNorm moving
    statistics, which fold away on export), 9.4M MACs per image.

    Args:
        input_shape: defaults to `(28, 28, 1)`.
        num_classes: defaults to 10.
        filters: five widths, blocks `block1`, `block2a`, `block2`,
            `block3a`, `block3`. Defaults to `(24, 48, 48, 64, 64)`.
        name: defaults to `"student_convnet"`.

    Returns:
        A functional `keras.Model` returning logits.
    """
    filters = tuple(int(f) for f in filters)
    if len(filters) != 5 or min(filters) < 1:
        raise ValueError(f"student_convnet: `filters` needs five positive widths. Received: filters={filters!r}.")
    inputs = keras.Input(input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = _conv_bn_relu(x, filters[0], "block1")
    x = layers.MaxPooling2D(name="pool1")(x)
    x = _conv_bn_relu(x, filters[1], "block2a")
    x = _conv_bn_relu(x, filters[2], "block2")
    x = layers.MaxPooling2D(name="pool2")(x)
    x = _conv_bn_relu(x, filters[3], "block3a")
    x = _conv_bn_relu(x, filters[4], "block3")
    x = layers.GlobalAveragePooling2D(name="features")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def segmenter(input_shape=(56, 56, 1), num_classes=11, *, width=8, name="segmenter"):
    """A small encoder-decoder for the Fashion-MNIST mosaics (`datasets.fashion_mosaics`).

    Encoder: `width` filters at full resolution, 2x`width` at 1/2, 4x`width`
    at 1/4 (`features`, what pair-wise affinity reads); decoder: bilinear
    upsampling with 3x3 convolutions back to full resolution, then 1x1
    `scores` (logits per pixel, `(N, H, W, num_classes)`). The reference
    segmentation teacher is `segmenter(width=32)`, the student `width=8`.
    """
    inputs = keras.Input(input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = _conv_bn_relu(x, width, "enc1")
    x = layers.MaxPooling2D(name="pool1")(x)
    x = _conv_bn_relu(x, 2 * width, "enc2")
    x = layers.MaxPooling2D(name="pool2")(x)
    x = _conv_bn_relu(x, 4 * width, "features")
    x = layers.UpSampling2D(2, interpolation="bilinear", name="up1")(x)
    x = _conv_bn_relu(x, 2 * width, "dec1")
    x = layers.UpSampling2D(2, interpolation="bilinear", name="up2")(x)
    x = _conv_bn_relu(x, width, "dec2")
    return keras.Model(inputs, layers.Conv2D(num_classes, 1, name="scores")(x), name=name)
