"""Config helpers shared by the objects that hold other Keras objects."""

import keras


def deserialize_fields(config, *, objects=(), lists=()):
    """A copy of `config` whose named fields are deserialized.

    Args:
        config: a `get_config()` dict.
        objects: fields holding one serialized object (or `None`).
        lists: fields holding a list of serialized objects (missing: `[]`).
    """
    config = dict(config)
    deserialize = keras.saving.deserialize_keras_object
    for key in objects:
        if config.get(key) is not None:
            config[key] = deserialize(config[key])
    for key in lists:
        config[key] = [deserialize(item) for item in config.get(key, [])]
    return config
