"""datasets of the ``blip`` scope."""
