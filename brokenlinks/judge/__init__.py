"""Reading an answer's body: soft 404s, parked domains, bot walls and the marker search behind them. Pure functions, no Scrapy."""
