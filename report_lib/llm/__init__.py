"""The LLM layer: settings, the backend registry, Bedrock clients, retry, cache, limiter, prices."""
