"""The domain router skips a path none of its routes can match without running FastAPI's
per-route matching, and still matches, redirects and answers 405 exactly as before."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match

from praxis.web import routes
from praxis.web.routes import Router


def _app() -> tuple[FastAPI, Router, Router]:
    api = Router(prefix="/api/v1/things")
    pages = Router()

    @api.get("/{thing_id}")
    def one(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    @api.post("")
    def create() -> dict[str, str]:
        return {"made": "yes"}

    @pages.get("/")
    def home() -> dict[str, str]:
        return {"page": "home"}

    @pages.get("/things/list/")
    def listing() -> dict[str, str]:
        return {"page": "list"}

    app = FastAPI()
    app.include_router(api)
    app.include_router(pages)
    return app, api, pages


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def test_a_foreign_path_is_refused_before_any_route_is_tried(monkeypatch: Any) -> None:
    _, api, pages = _app()
    tried: list[str] = []
    for router in (api, pages):
        for route in router.routes:
            real = route.matches
            monkeypatch.setattr(route, "matches", lambda scope, real=real, route=route: (
                tried.append(route.path), real(scope))[1])
    assert api.matches(_scope("GET", "/somewhere/else"))[0] is Match.NONE
    assert pages.matches(_scope("GET", "/api/v1/things/7"))[0] is Match.NONE
    assert tried == []


def test_matching_redirects_and_method_errors_are_unchanged() -> None:
    app, _, _ = _app()
    client = TestClient(app)
    assert client.get("/api/v1/things/7").json() == {"id": 7}
    assert client.post("/api/v1/things").json() == {"made": "yes"}
    assert client.get("/").json() == {"page": "home"}
    assert client.get("/things/list/").json() == {"page": "list"}
    moved = client.get("/things/list", follow_redirects=False)  # Starlette's trailing-slash redirect
    assert moved.status_code == 307 and moved.headers["location"].endswith("/things/list/")
    assert client.delete("/api/v1/things/7").status_code == 405
    assert client.get("/api/v1/things/seven").status_code == 422
    assert client.get("/nothing-here").status_code == 404


def test_every_router_of_the_app_is_guarded() -> None:
    from praxis import wiring

    assert all(isinstance(r, routes.Router) for r in wiring.routers())
