"""Manifest loading: render (Jinja2), parse (YAML with positions), validate, normalise."""
