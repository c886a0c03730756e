"""evaluation of the ``blip`` scope."""
