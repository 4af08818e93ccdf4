"""Domain logic: plain functions over a session, with no request or Flask code.

Each function takes the session, the acting user and the clock (``now``) as
parameters, flushes but never commits, and raises :class:`~respondr.domain.errors.DomainError`
subclasses with messages a person can act on.
"""
