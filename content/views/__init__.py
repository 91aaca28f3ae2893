"""Thin function views, one module per area: parse the request, call a selector or service,
render. URL names are in content/urls.py."""
