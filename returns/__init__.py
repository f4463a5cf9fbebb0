"""Returns: policies, return requests, resolutions, labels and the shopper portal."""
