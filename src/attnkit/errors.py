"""The one exception type for mistakes a user can make.

The CLI catches :class:`AttnkitError`, prints ``error: <message>`` and exits with status 1,
without a traceback.

Example:
    >>> try:
    ...     raise AttnkitError("no such dataset 'x'")
    ... except AttnkitError as e:
    ...     str(e)
    "no such dataset 'x'"
"""


class AttnkitError(Exception):
    """An error caused by user input: a bad path, config key, empty text, corrupt checkpoint."""
