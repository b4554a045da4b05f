"""The one exception type for mistakes a user can fix (bad params, bad data)."""


class AefxError(Exception):
    """A user-facing problem: the CLI prints its message on one line and exits with code 2."""

    exit_code = 2


# The largest whole number a setting or an option may be: NumPy's and TensorFlow's int64. A
# larger one ended in an OverflowError or TensorFlow's "out-of-range integer" traceback.
LARGEST_INT = 2**63 - 1
