"""The one root of voltlab's exceptions.

Every subpackage derives its errors from :class:`VoltlabError` and, where one fits, from the
matching builtin too (``ValueError``, ``TimeoutError``), so callers can catch either.
"""


class VoltlabError(Exception):
    """Base class of every error voltlab raises on purpose."""
