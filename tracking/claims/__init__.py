"""Package protection, opt-in: each merchant's settings, shoppers' claims on protected parcels
checked against the parcel's own timeline, and the merchant's decision and resolution (a reship
through the orders engine, or a refund the merchant makes). docs/protection.md."""
