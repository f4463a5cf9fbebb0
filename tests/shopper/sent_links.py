"""Links in messages already delivered: what notifications/links.py signed before the shopper
shell existed. They must keep opening their pages (tests/shopper/test_tokens.py,
tests/notifications/test_shopper_pages.py)."""

# Made by notifications/links.py before the shell existed (signing.dumps, these salts), with
# SECRET_KEY = OLD_KEY on 2025-01-01 12:00 UTC, for merchant 7001's customer 8001.
OLD_KEY = "links-sent-in-2025-are-signed-with-this-key"
OLD_UNSUBSCRIBE_EMAIL = (
    "eyJtIjo3MDAxLCJjIjo4MDAxLCJjaCI6ImVtYWlsIn0:1tSxOK:b4BzPhaZ-RlAtBoIxVcQRbfpgDphc4fCjddXavW4lco"
)
OLD_UNSUBSCRIBE_SMS = (
    "eyJtIjo3MDAxLCJjIjo4MDAxLCJjaCI6InNtcyJ9:1tSxOK:fD9i39DS0rjk4QQsBEWIxdts72lb4baSiAlC9rp7_Ug"
)
OLD_PREFERENCES = "eyJtIjo3MDAxLCJjIjo4MDAxfQ:1tSxOK:3YMITpufYXk5zjBUMltszuCMVy0nVt6F5Xr9Imflr8U"
