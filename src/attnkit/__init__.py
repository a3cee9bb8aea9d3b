"""attnkit: attention mechanisms for PyTorch and the classic models built on them."""

__version__ = "0.1.0"
