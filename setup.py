"""Package list only: the top-level ``adapters/`` folder ships as ``vsodboost.adapters`` (see pyproject.toml)."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["vsodboost", "vsodboost.*"]) + ["vsodboost.adapters"])
