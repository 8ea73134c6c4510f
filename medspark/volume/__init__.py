"""Series as volumes: slice geometry, 3D assembly, volume features, registration and fusion."""
