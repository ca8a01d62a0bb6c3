"""Listing endpoints: ``tags/list``, ``_catalog`` and ``referrers``, paginated with ``Link``."""

from __future__ import annotations

from drift.api.common import digest_param
from drift.core.dispatch import json_response
from drift.core.http import Request, Response
from drift.core.urls import next_link
from drift.oci import mediatypes as mt
from drift.oci.errors import ErrorCode, RegistryError
from drift.registry.pagination import Page, PageRequest, paginate
from drift.registry.service import Registry

__all__ = ["ListingHandlers"]

_REFERRERS_PAGE = 1000


def _link_headers(
    req: Request, page: Page, request: PageRequest, size: int | None
) -> dict[str, str]:
    if page.next_last is None:
        return {}
    query = {"last": page.next_last}
    count = request.n if request.n is not None else size
    if count is not None:
        query["n"] = str(count)
    for key in ("artifactType",):
        if key in req.query:
            query[key] = req.query[key]
    return {"Link": next_link(req, query)}


class ListingHandlers:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def tags(self, req: Request) -> Response:
        name = req.params["name"]
        request = PageRequest.from_query(req.query)
        tags = await self._registry.tags.list_tags(name)
        if tags is None:
            raise RegistryError(
                ErrorCode.NAME_UNKNOWN, f"repository {name!r} not known", detail={"name": name}
            )
        page = paginate(tags, request, None)
        headers = _link_headers(req, page, request, None)
        return json_response(200, {"name": name, "tags": page.items}, headers)

    async def catalog(self, req: Request) -> Response:
        request = PageRequest.from_query(req.query)
        size = self._registry.settings.catalog_page_size
        repositories = await self._registry.repositories()
        if req.grant is not None:  # the catalog shows only what the caller may pull
            repositories = [name for name in repositories if req.grant.readable(name)]
        page = paginate(repositories, request, size)
        return json_response(
            200, {"repositories": page.items}, _link_headers(req, page, request, size)
        )

    async def referrers(self, req: Request) -> Response:
        subject = digest_param(req)
        descriptors = await self._registry.referrers(req.params["name"], subject)
        headers: dict[str, str] = {}
        artifact_type = req.query.get("artifactType")
        if artifact_type is not None:
            descriptors = [d for d in descriptors if d.get("artifactType") == artifact_type]
            headers["OCI-Filters-Applied"] = "artifactType"
        by_digest = {d["digest"]: d for d in descriptors}
        request = PageRequest.from_query(req.query)
        page = paginate(by_digest, request, _REFERRERS_PAGE)
        headers.update(_link_headers(req, page, request, _REFERRERS_PAGE))
        index = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [by_digest[digest] for digest in page.items],
        }
        response = json_response(200, index, headers)
        response.headers["Content-Type"] = mt.OCI_INDEX
        return response
