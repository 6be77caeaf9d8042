"""One module per chip profile; each defines PROFILE (see network/chips/profile.py)."""
