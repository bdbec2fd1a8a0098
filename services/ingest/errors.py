"""The ingest service's refusals: the shared error shape of services/common/http_errors.py."""

from __future__ import annotations

from services.common.http_errors import ServiceError, error_response, install_error_handlers, json_response


class IngestError(ServiceError):
    """A request refused as a whole, with its HTTP status."""


__all__ = ["IngestError", "error_response", "install_error_handlers", "json_response"]
