"""Widgets of the Generate tab."""
