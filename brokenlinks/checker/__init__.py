"""Checking link targets: one check per distinct target, its verdict, the freshness cache, the verdict spill and the worker pool."""
