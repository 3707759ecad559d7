"""Operations around crawls: preflight checks before a crawl, the Scrapyd schedule."""
