"""The OpenAI-compatible data plane: /v1/chat/completions, /v1/embeddings, /v1/models."""
