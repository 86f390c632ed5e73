"""One adapter per search backend behind `search.index.SearchIndex`."""
