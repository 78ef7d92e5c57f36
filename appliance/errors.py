"""Errors a service raises; web/ turns them into pages and JSON, the CLI into one line.

Messages are English source strings marked for translation; the web layer passes them
through gettext with their params, so the core never needs Flask-Babel.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for translation without translating it here."""
    return message


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class InvalidInput(ServiceError):
    """Input that breaks a rule; `fields` maps a form field to what is wrong with it."""

    status = 400

    def __init__(self, fields: dict[str, str], message: str = N_("Please check the form.")):
        super().__init__(message)
        self.fields = fields

    def __str__(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.fields.items())


class NotSignedIn(ServiceError):
    status = 401


class NotAllowed(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    """The action does not fit the current state (e.g. helping on a resolved post)."""

    status = 409
