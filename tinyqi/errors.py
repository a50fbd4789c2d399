"""The one exception type users see: the CLI prints its message as a single line and exits non-zero."""


class TinyqiError(Exception):
    """A problem with the user's input or environment, worded as `<where>: <what is wrong>; <what to do>`."""
