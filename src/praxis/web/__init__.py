"""Shared web plumbing: dependencies, middleware, problem responses, templating."""
