"""Online learning rules that run inside the network engine's step kernel."""
