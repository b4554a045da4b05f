"""The one exception type for mistakes a user can fix (bad params, bad data)."""


class AefxError(Exception):
    """A user-facing problem: the CLI prints its message on one line and exits with code 2."""

    exit_code = 2


# The largest whole number a setting or an option may be: NumPy's and TensorFlow's int64. A
# larger one ended in an OverflowError or TensorFlow's "out-of-range integer" traceback.
LARGEST_INT = 2**63 - 1


def first_line(problem: BaseException | str, width: int | None = None) -> str:
    """The first line of an error's message, as the reason in a one-line message; past
    ``width`` characters it is cut after a whole word, with "...". An error without a message
    gives its type's name (``str(exc).splitlines()[0]`` was an IndexError of its own)."""
    line = next((text.strip() for text in str(problem).splitlines() if text.strip()), "")
    if not line:
        return type(problem).__name__ if isinstance(problem, BaseException) else ""
    if width is None or len(line) <= width:
        return line
    head = line[: width - 3]
    words = head.rsplit(" ", 1)[0] if line[width - 3] != " " else head
    return f"{words if len(words) > width // 2 else head}..."
