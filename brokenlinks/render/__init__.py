"""JavaScript rendering: when a page needs a browser, the browser's settings and guard, its egress proxy and the lazy handler."""
