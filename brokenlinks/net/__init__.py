"""The network: the guard against private addresses, host overrides (the resolver) and the polite downloader."""
