"""Shared building blocks of the app: the model loader, the image input, i18n and drawing helpers."""
