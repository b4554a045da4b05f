"""The one exception type for mistakes a user can fix (bad params, bad data), and the other
errors that the CLI says in one line (a full disk, a locked SQLite store)."""

from collections.abc import Iterable


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


def did_you_mean(word: str, names: Iterable[str]) -> str | None:
    """``(did you mean 'NAME'?)`` for the one of ``names`` nearest to a mistyped ``word``, or
    None when none is near."""
    import difflib

    close = difflib.get_close_matches(word, list(names), n=1)
    return f"(did you mean {close[0]!r}?)" if close else None


def first_few(names: list[str], most: int = 5) -> str:
    """The first ``most`` of ``names``, joined by commas, and ", ..." when there are more: how a
    one-line message names what may be a long list."""
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


# What Prefect's console is not to print a traceback for: the CLI says it in one line.
RESOURCE_WORDS = (
    "No space left on device",
    "Disk quota exceeded",
    "database or disk is full",
    "database is locked",
)


def resource_problem(exc: BaseException) -> str | None:
    """What ``exc``, or an error it was raised from or while handling, says of a full disk or
    quota, or of a SQLite store that another process holds locked past SQLite's wait (Keras,
    pyarrow and MLflow each raise their own way); None when it is none of those. Outputs are
    written aside and renamed into place, so the write that failed left nothing half-written."""
    import errno
    import sqlite3

    seen: set[int] = set()
    at: BaseException | None = exc
    while at is not None and id(at) not in seen:
        seen.add(id(at))
        if isinstance(at, OSError) and at.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" ({at.filename})" if at.filename else ""
            full = (
                "no space left on the device" if at.errno == errno.ENOSPC else "over the disk quota"
            )
            return f"{full}{where}; free some space and run again"
        if isinstance(at, sqlite3.OperationalError) and "disk is full" in str(at):
            return (
                "no space left on the device of the SQLite store (database or disk is full); "
                "free some space and run again"
            )
        if isinstance(at, sqlite3.OperationalError) and "database is locked" in str(at):
            return (
                "the SQLite store is locked by another process (database is locked): one "
                "holding a write open, such as a database browser; run again once it is done"
            )
        at = at.__cause__ or at.__context__
    return None
