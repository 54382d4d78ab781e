"""Datasets: real loaders that read local files first and download last."""

from keras_kd.datasets import arrays
from keras_kd.datasets import fashion_mnist
from keras_kd.datasets import folders
from keras_kd.datasets import fashion_mosaics
