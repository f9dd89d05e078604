"""gateway: OpenAI-compatible, grammar-constrained tool calling for every GGUF model."""

__version__ = "0.1.0"
