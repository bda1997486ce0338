"""Embedders: a local ONNX sentence-embedding model, a deterministic hash stand-in, Azure OpenAI."""
