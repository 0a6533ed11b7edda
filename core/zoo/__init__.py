"""Model families. Each module registers its `ModelSpec`s with `core.models.register` when imported."""
