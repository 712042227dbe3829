"""User-facing errors: one line that names the file, key or argument and what was expected."""


class CPMError(ValueError):
    """Raised for bad input (files, configs, checkpoints, arguments); the message is one line."""
