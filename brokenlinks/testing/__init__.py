"""Local webs for tests, the demo and the benchmarks (:mod:`brokenlinks.testing.localweb`)."""
