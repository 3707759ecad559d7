"""Downloader middlewares: retries with Retry-After, redirects of referring pages."""
