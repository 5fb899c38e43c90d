"""The one error type users see: a problem with their input, not a bug in the toolkit."""


class ToolkitError(Exception):
    """Bad recipe, data, model folder or argument.

    The CLI prints the message alone (no traceback unless --debug) and exits with status 2.
    Messages name the file, the key or column, and what to do about it.
    """

    exit_code = 2

    def __init__(self, message: str):
        # One line, always: a newline or other control character from the user's own keys or values is
        # shown escaped, so it can be seen and the message stays one line.
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


def not_utf8(data: bytes, error: UnicodeDecodeError, lines_before: int = 0) -> str:
    """Where bytes that are not UTF-8 sit in a file (`data`: the file, or one of its lines after `lines_before`
    others), said the one way every reader of text files says it."""
    line = data.count(b"\n", 0, error.start) + 1 + lines_before
    column = error.start - data.rfind(b"\n", 0, error.start)
    return f"line {line} is not UTF-8 text (byte 0x{data[error.start]:02x} at column {column}); save it as UTF-8"
