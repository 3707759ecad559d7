"""What a crawl starts from: seed files and backlink exports, shards per node, the recheck plan."""
