"""Chat turns: the ChatKit server, history to model input, the provider, request parsing."""
