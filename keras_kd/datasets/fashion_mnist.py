"""Fashion-MNIST, read from local files when they exist, downloaded otherwise.

Where the files are looked for, in order:

1. the directory named by the environment variable ``KERAS_KD_FASHION_MNIST_DIR``;
2. ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``);
3. Keras's cache, ``~/.keras/datasets/fashion-mnist`` (or ``$KERAS_HOME``);
4. otherwise ``keras.datasets.fashion_mnist.load_data()`` downloads them.

Every location holds the four gzipped IDX files Zalando publishes, so the
arrays are exactly those of Keras's loader: ``uint8`` images of shape
``(n, 28, 28)`` and ``uint8`` labels of shape ``(n,)``.
"""

import gzip
import os

import numpy as np

ENV_VAR = "KERAS_KD_FASHION_MNIST_DIR"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def _keras_cache_dir():
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(keras_home, "datasets", "fashion-mnist")


def candidate_dirs():
    """The directories searched for the IDX files, in order."""
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(os.environ[ENV_VAR])
    dirs += [DEBIAN_DIR, _keras_cache_dir()]
    return dirs


def find_local_dir():
    """The first candidate directory holding all four files, or `None`.

    A directory named by the environment variable that lacks the files is an
    error, not a silent fallback: the user asked for it explicitly.
    """
    explicit = os.environ.get(ENV_VAR)
    for directory in candidate_dirs():
        if all(os.path.isfile(os.path.join(directory, f)) for f in FILES.values()):
            return directory
        if explicit and directory == explicit:
            missing = [
                f for f in FILES.values()
                if not os.path.isfile(os.path.join(directory, f))
            ]  # fmt: skip
            raise FileNotFoundError(
                f"{ENV_VAR} points to a directory without the Fashion-MNIST "
                f"files. Received: {ENV_VAR}={explicit!r}, missing "
                f"{missing}. Put the four gzipped IDX files there, or unset "
                f"{ENV_VAR} to use {DEBIAN_DIR} or Keras's download."
            )
    return None


def read_idx(path):
    """Reads one (optionally gzipped) IDX file into a numpy array.

    The format: two zero bytes, a dtype code (0x08 = uint8), the number of
    dimensions, then each dimension as a big-endian uint32, then the data.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(
            f"{path} is not a uint8 IDX file (bad magic number "
            f"{data[:4].hex() if data else 'empty'}). Re-download it or "
            f"reinstall the dataset package."
        )
    ndim = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise ValueError(
            f"{path} is truncated: its header announces shape {shape} "
            f"({expected} bytes) but it holds {len(data) - offset}. "
            f"Re-download it or reinstall the dataset package."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def load_data(directory=None):
    """Loads Fashion-MNIST as Keras does: `(x_train, y_train), (x_test, y_test)`.

    Args:
        directory: a directory holding the four gzipped IDX files. Defaults
            to `None`, which searches `candidate_dirs()` and falls back to
            `keras.datasets.fashion_mnist.load_data()` (a download).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes
        `(60000, 28, 28)`, `(60000,)`, `(10000, 28, 28)`, `(10000,)`.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, x_train.dtype
    ((60000, 28, 28), dtype('uint8'))
    """
    if directory is None:
        directory = find_local_dir()
    if directory is None:
        import keras

        return keras.datasets.fashion_mnist.load_data()
    arrays = {k: read_idx(os.path.join(directory, f)) for k, f in FILES.items()}
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_splits(validation_size=5000, *, directory=None):
    """Train / validation / test splits with a channel axis, for Keras models.

    The validation split is the *last* `validation_size` training images (a
    fixed split, so runs compare on the same images); the test split is the
    official 10k. Images stay uint8 in [0, 255], shape `(n, 28, 28, 1)`;
    the reference models rescale inside.

    Args:
        validation_size: images held out of training. Defaults to 5000. Pass
            0 for no validation split (`None` is returned in its place).
        directory: passed to `load_data`. Defaults to `None`.

    Returns:
        `((x_train, y_train), (x_val, y_val) or None, (x_test, y_test))`.
    """
    (x_train, y_train), (x_test, y_test) = load_data(directory)
    if not 0 <= validation_size < len(x_train):
        raise ValueError(
            f"validation_size must be in [0, {len(x_train)}). "
            f"Received: validation_size={validation_size}."
        )
    x_train, x_test = x_train[..., None], x_test[..., None]
    if validation_size == 0:
        return (x_train, y_train), None, (x_test, y_test)
    cut = len(x_train) - validation_size
    return (
        (x_train[:cut], y_train[:cut]),
        (x_train[cut:], y_train[cut:]),
        (x_test, y_test),
    )
