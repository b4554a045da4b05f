"""The one exception type for mistakes a user can fix (bad params, bad data)."""


class AefxError(Exception):
    """A user-facing problem: the CLI prints its message on one line and exits with code 2."""

    exit_code = 2
