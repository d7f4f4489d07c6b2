placeholder: validate does not load artifacts with --no-preflight
