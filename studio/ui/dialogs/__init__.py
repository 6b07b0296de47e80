"""Dialogs: settings, shortcuts, and the prompts object every question goes through."""
