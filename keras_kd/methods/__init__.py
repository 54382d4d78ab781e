"""Recipes beyond one teacher and one plain loss."""

from keras_kd.methods.dakd import DAKDDistiller
