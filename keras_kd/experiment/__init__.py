"""Experiments from one config file: `keras-kd train-teacher | distill | evaluate CONFIG`.

`config.py` holds the format and its checks (every error names the key's
path), `schema.py` the small typed schema, `run.py` the commands.
"""

from keras_kd.experiment.config import load_config
from keras_kd.experiment.config import schema
from keras_kd.experiment.run import distill
from keras_kd.experiment.run import evaluate
from keras_kd.experiment.run import train_teacher
from keras_kd.experiment.schema import ConfigError
