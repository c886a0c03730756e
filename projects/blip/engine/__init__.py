"""Runner pieces (loops, hooks) of the ``blip`` scope."""
