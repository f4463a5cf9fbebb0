"""Loyalty: programs, the append-only points ledger, tiers, rewards and referrals."""
