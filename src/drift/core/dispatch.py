"""The one entry point of every transport: route, authorize, run the handler, format errors.

Handlers never format errors: every ``RegistryError`` (and anything unexpected) becomes the
OCI error envelope here, so a bad request is always a clear 4xx and never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

import orjson

from drift.core.access import PUBLIC, AccessController, required_access
from drift.core.context import RequestScope, enter_scope, leave_scope
from drift.core.http import BodyIncompleteError, Handler, Request, Response
from drift.core.routing import RouteId, match_route
from drift.oci.errors import ErrorCode, RegistryError
from drift.oci.names import validate_name
from drift.storage.driver import StorageError

__all__ = ["Dispatcher", "HandlerTable", "Outcome", "error_response", "json_response"]

_log = logging.getLogger(__name__)

HandlerTable = Mapping[RouteId, Mapping[str, Handler]]
API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")


def error_response(error: RegistryError) -> Response:
    body = orjson.dumps(error.envelope())
    return Response.data(error.status, body, "application/json; charset=utf-8", error.headers)


@dataclass(slots=True)
class Outcome:
    """What dispatching learned about one request, for the access log and the metrics.

    ``route`` stays None for a path outside the API; ``subject`` is the granted user (None for
    anonymous access or when authorization failed). ``request_id`` is set by the caller.
    """

    request_id: str | None = None
    route: RouteId | None = None
    repository: str | None = None
    subject: str | None = None


class Dispatcher:
    def __init__(self, handlers: HandlerTable, access: AccessController) -> None:
        self._handlers = handlers
        self._access = access

    async def __call__(self, req: Request, outcome: Outcome | None = None) -> Response:
        try:
            response = await self._dispatch(req, outcome)
        except RegistryError as error:
            response = error_response(error)
        except BodyIncompleteError:
            response = error_response(
                RegistryError(
                    ErrorCode.SIZE_INVALID, "the request body ended before its announced length"
                )
            )
        except StorageError as error:
            _log.error("storage failure on %s %s: %s", req.method, req.path, error)
            response = error_response(
                RegistryError(ErrorCode.UNAVAILABLE, "storage backend failure; try again")
            )
        except Exception:
            _log.exception("unhandled error on %s %s", req.method, req.path)
            response = error_response(
                RegistryError(ErrorCode.UNAVAILABLE, "internal error", status=500)
            )
        response.headers.setdefault(*API_VERSION_HEADER)
        if req.method == "HEAD":
            response.body = b""
        return response

    async def _dispatch(self, req: Request, outcome: Outcome | None) -> Response:
        match = match_route(req.path)
        methods = None if match is None else self._handlers.get(match.route)
        if match is None or methods is None:  # no handler table entry: a disabled endpoint
            raise RegistryError(ErrorCode.UNSUPPORTED, "unknown API endpoint", status=404)
        if outcome is not None:
            outcome.route = match.route
            outcome.repository = match.params.get("name")
        handler = methods.get(req.method)
        if handler is None:
            allowed = ", ".join(sorted(methods))
            raise RegistryError(
                ErrorCode.UNSUPPORTED,
                f"method {req.method} not allowed here; allowed: {allowed}",
                headers={"Allow": allowed},
            )
        if "name" in match.params:
            validate_name(match.params["name"])
        request_id = outcome.request_id if outcome is not None else None
        token = enter_scope(RequestScope(req, None, request_id))  # login events name the caller
        try:
            needed = required_access(match, req)
            grant = PUBLIC if needed is None else await self._access.authorize(req, needed)
            if outcome is not None:
                outcome.subject = grant.subject
            req = replace(req, params=match.params, grant=grant)
            if grant.subject is not None:
                enter_scope(RequestScope(req, grant.subject, request_id))
            return await handler(req)
        finally:
            leave_scope(token)


def json_response(
    status: int, document: object, headers: Mapping[str, str] | None = None
) -> Response:
    return Response.data(status, orjson.dumps(document), "application/json", headers)
