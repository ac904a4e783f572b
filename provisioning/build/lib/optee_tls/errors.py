"""Exceptions shared by the library, the CLI and the service."""
from __future__ import annotations


class OpteeTlsError(Exception):
    """Base of every error this package raises on purpose."""


class EnrollError(OpteeTlsError):
    """The CA refused, answered something unusable, or could not be reached.
    Nothing has been installed when this is raised."""


class EnrollPending(EnrollError):
    """The CA accepted the request but has not issued yet (EST 202,
    ACME order still processing). Try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EnrollDeferred(EnrollError):
    """Enrollment happens outside this tool (method `none`): the CSR waits
    for `optee-tls install-cert`. Not a failure, not retried."""
