"""Reading referring pages: link extraction, charsets, URL resolution (WHATWG) and sites (registered domains). Pure functions."""
