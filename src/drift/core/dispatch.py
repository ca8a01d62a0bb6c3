"""The one entry point of every transport: route, authorize, run the handler, format errors.

Handlers never format errors: every ``RegistryError`` (and anything unexpected) becomes the
OCI error envelope here, so a bad request is always a clear 4xx and never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

import orjson

from drift.core.access import AccessController, required_access
from drift.core.http import BodyIncompleteError, Handler, Request, Response
from drift.core.routing import RouteId, match_route
from drift.oci.errors import ErrorCode, RegistryError
from drift.oci.names import validate_name
from drift.storage.driver import StorageError

__all__ = ["Dispatcher", "HandlerTable", "error_response", "json_response"]

_log = logging.getLogger(__name__)

HandlerTable = Mapping[RouteId, Mapping[str, Handler]]
API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")


def error_response(error: RegistryError) -> Response:
    body = orjson.dumps(error.envelope())
    return Response.data(error.status, body, "application/json; charset=utf-8", error.headers)


class Dispatcher:
    def __init__(self, handlers: HandlerTable, access: AccessController) -> None:
        self._handlers = handlers
        self._access = access

    async def __call__(self, req: Request) -> Response:
        try:
            response = await self._dispatch(req)
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

    async def _dispatch(self, req: Request) -> Response:
        match = match_route(req.path)
        if match is None:
            raise RegistryError(ErrorCode.UNSUPPORTED, "unknown API endpoint", status=404)
        methods = self._handlers.get(match.route, {})
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
        await self._access.authorize(req, required_access(match, req))
        return await handler(replace(req, params=match.params))


def json_response(
    status: int, document: object, headers: Mapping[str, str] | None = None
) -> Response:
    return Response.data(status, orjson.dumps(document), "application/json", headers)
