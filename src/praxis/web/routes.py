"""Routing helpers: the router class every domain uses, and a walk over every route of the app
(FastAPI keeps included routers nested)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


def iter_routes(app: FastAPI) -> Iterator[APIRoute]:
    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)

    yield from walk(app.router.routes)


class Router(APIRouter):
    """An APIRouter that answers "no match" at once for a path none of its routes can match.

    Since FastAPI 0.137 an included router is a nested node and matching it scans each of its
    routes with FastAPI's per-route scope bookkeeping, so a request walks every earlier router
    in full: about 0.3 ms for the booking route and 0.6 ms for a staff page on a slow core
    (docs/performance.md). This guard compares the path with the literal text of the routes'
    paths first (a superset test: a route's regex can only match a path that starts with the
    text before its first parameter); when the guard passes, FastAPI's own matching decides."""

    _guard: tuple[int, frozenset[str], tuple[str, ...]] | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            exact, prefixes = self._literals()
            path = get_route_path(scope)  # what Starlette's routes match against
            if path.rstrip("/") not in exact and not path.startswith(prefixes):
                return Match.NONE, {}
        return super().matches(scope)

    def _literals(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """Exact paths (routes without parameters, trailing slash ignored) and literal prefixes
        (routes with parameters; "" for any other kind of route, which disables the guard)."""
        if self._guard is None or self._guard[0] != len(self.routes):
            exact: set[str] = set()
            prefixes: set[str] = set()
            for route in self.routes:
                path = getattr(route, "path", None)
                if not isinstance(route, APIRoute) or not isinstance(path, str):
                    prefixes.add("")
                elif "{" in path:
                    prefixes.add(path.split("{", 1)[0])
                else:
                    exact.add(path.rstrip("/"))
            self._guard = (len(self.routes), frozenset(exact), tuple(sorted(prefixes)))
        return self._guard[1], self._guard[2]
