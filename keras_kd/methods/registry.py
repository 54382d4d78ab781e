"""The methods by name: recipes that go beyond one teacher and plain terms.

`get("multi_teacher")` returns the class (or, for chains, the function);
`available()` lists the names, which `keras-kd methods` prints. Terms are
named in `keras_kd.losses` instead.
"""

from keras_kd.registries import Registry

METHODS = Registry("method")


def register(name):
    """Decorator: registers a Distiller subclass or a recipe function under `name`."""
    return lambda obj: METHODS.register(name, obj)


available = METHODS.available
get = METHODS.get
