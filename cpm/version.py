"""The package version, in a module of its own so any layer can record it without loading the notebook API."""
__version__ = "0.1.0"
