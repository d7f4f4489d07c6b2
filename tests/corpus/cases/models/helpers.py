"""An extra import shipped beside a model in corpus manifests."""
