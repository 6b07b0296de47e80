"""Pure-Python core: requests, events, presets, metadata, geometry, masks. No Qt, no torch."""
