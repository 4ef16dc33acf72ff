"""The exception the package raises for a call the cluster refused or could not answer."""

from __future__ import annotations

from typing import Optional

import grpc


class ShardoptError(Exception):
    """A gRPC call failed, or the servers' answers did not fit together.

    ``code`` is the gRPC status (``grpc.StatusCode.INVALID_ARGUMENT`` ...; None for an answer the
    package itself found wrong, e.g. a pull that did not cover a tensor), and ``details`` the
    server's message, which says what was wrong and what is allowed (docs/clients.md, "Errors").
    """

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None, details: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.details = details

    @staticmethod
    def of(what: str, error: grpc.RpcError) -> "ShardoptError":
        """The error for a failed call: ``"<what>: <CODE> <details>"``."""
        code = error.code() if hasattr(error, "code") else None
        details = (error.details() if hasattr(error, "details") else None) or ""
        name = code.name if code is not None else "UNKNOWN"
        return ShardoptError("%s: %s %s" % (what, name, details), code, details)
