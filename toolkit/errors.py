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
