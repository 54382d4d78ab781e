"""keras_kd: knowledge distillation and model compression for Keras 3."""

import pathlib
import re

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "keras_kd" / "__init__.py").read_text()
).group(1)

setup(
    name="keras-kd",
    version=VERSION,
    description=(
        "Knowledge distillation and compression for Keras 3: distill a big "
        "teacher into a small student and ship it as an int8 LiteRT model."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_kd", "keras_kd.*"]),
    # Ranges for users; the exact CI stack is pinned in requirements/ci.txt.
    # GPU users install tensorflow[and-cuda] instead of tensorflow-cpu.
    install_requires=[
        "keras>=3.12",
        "numpy>=1.26",
        "matplotlib>=3.7",
        "PyYAML>=6",
    ],
    extras_require={
        "cpu": ["tensorflow-cpu>=2.18"],
        "gpu": ["tensorflow[and-cuda]>=2.18"],
        "litert": ["ai-edge-litert>=1.2"],
        "test": ["pytest>=8"],
    },
    entry_points={"console_scripts": ["keras-kd=keras_kd.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
