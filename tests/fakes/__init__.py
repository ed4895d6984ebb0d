"""Fakes of the platforms' HTTP APIs (aiohttp apps on 127.0.0.1), driven by real clients."""
