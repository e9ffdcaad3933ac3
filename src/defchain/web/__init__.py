"""Web adapter: FastAPI app, routes, templates, static assets."""
