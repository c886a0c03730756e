"""models of the ``blip`` scope."""
