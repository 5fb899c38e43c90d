"""The one error type users see: a problem with their input, not a bug in the toolkit."""


class ToolkitError(Exception):
    """Bad recipe, data, model folder or argument.

    The CLI prints the message alone (no traceback unless --debug) and exits with status 2.
    Messages name the file, the key or column, and what to do about it.
    """

    exit_code = 2
