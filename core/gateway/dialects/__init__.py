"""Built-in dialects."""
