"""Analytics: metric definitions (CRR, repeat-purchase rate, CSAT, ...), rollups, dashboard."""
