"""Shared building blocks of the app: events, text, the model loader, the image input, outputs, memory, drawing."""
