"""The interop HTTP channels: the FHIR R4 facade (fhir*.py) and the webhook subscriptions API
(webhooks.py). Routers live here so the FastAPI import contract (praxis.*.api) holds."""
