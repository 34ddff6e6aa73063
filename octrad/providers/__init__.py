"""AI providers: one interface over OpenAI-compatible, Anthropic, Gemini, Ollama, replay."""
