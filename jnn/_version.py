"""The package version, in a module of its own.

`jnn/__init__.py` re-exports it as `jnn.__version__`, `pyproject.toml` reads it
for the distribution's metadata, and modules inside `jnn` (checkpoint
manifests) import it from here instead of importing the package they are in.
"""

__version__ = "0.1.0"
