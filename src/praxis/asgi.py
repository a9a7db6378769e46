"""ASGI entry point for uvicorn and other servers: `praxis.asgi:app`."""

from praxis.main import create_app

app = create_app()
