class LocalStackError(RuntimeError):
    """A step of the local stack failed; the message names the step, the cause and the log."""
