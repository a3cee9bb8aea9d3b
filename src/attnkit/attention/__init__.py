"""attnkit.attention: the attention layers."""
