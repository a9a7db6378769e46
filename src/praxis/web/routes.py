"""Walk every route of the app, including those of included routers (FastAPI keeps them nested)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute


def iter_routes(app: FastAPI) -> Iterator[APIRoute]:
    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)

    yield from walk(app.router.routes)
