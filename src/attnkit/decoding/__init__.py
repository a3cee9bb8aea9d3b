"""attnkit.decoding."""
