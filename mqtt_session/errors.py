"""The one error type of the session library."""


class SessionError(Exception):
    """The broker could not be reached, refused us, or did not answer in time; the message says
    which and what to check."""
