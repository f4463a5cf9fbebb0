"""The demo store's fixed tables: the merchant, its catalogue, places, names, carriers and texts."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

DEMO_SLUG = "demo"
DEMO_SEED = 2026
OWNER_EMAIL = "demo@example.com"
OWNER_PASSWORD = "demo-outfitters"  # noqa: S105 - the demo's published default
OWNER_NAME = "Casey Demo"
WINDOW_DAYS = 365
MOST_ORDERS = 20  # the most orders one demo customer places
MERCHANT_ATTRIBUTES = {
    "name": "Demo Outfitters",
    "timezone": "America/New_York",
    "currency": "USD",
    "country": "US",
    "default_locale": "en",
    "primary_colour": "#1f3d2b",
    "accent_colour": "#e07a1f",
    "sender_name": "Demo Outfitters",
    "sender_email": "hello@demo-outfitters.example",
    "support_email": "support@demo-outfitters.example",
    "support_url": "https://demo-outfitters.example/help",
}
STORE_URL = "https://demo-outfitters.example"
STORE_TZ = ZoneInfo(MERCHANT_ATTRIBUTES["timezone"])
CENT = Decimal("0.01")

# (category, title, price, popularity)
CATALOGUE = (
    ("footwear", "Ridgeline Trail Runner", "139.00", 9),
    ("footwear", "Summit GTX Hiking Boot", "189.00", 8),
    ("footwear", "Cascade Waterproof Mid", "159.00", 6),
    ("footwear", "Switchback Approach Shoe", "129.00", 4),
    ("footwear", "Basecamp Camp Moc", "79.00", 4),
    ("footwear", "Riverbend Sport Sandal", "69.00", 4),
    ("footwear", "Tundra Insulated Winter Boot", "179.00", 3),
    ("footwear", "Trailhead Kids' Hiker", "74.00", 3),
    ("jackets", "Stormfront 3L Rain Shell", "249.00", 7),
    ("jackets", "Ember Down Jacket", "229.00", 7),
    ("jackets", "Highline Softshell Jacket", "149.00", 4),
    ("jackets", "Drift Fleece Full-Zip", "89.00", 8),
    ("jackets", "Windrush Packable Wind Shell", "99.00", 4),
    ("jackets", "Aurora Insulated Parka", "349.00", 3),
    ("jackets", "Cirrus Synthetic Vest", "119.00", 4),
    ("jackets", "Granite Hybrid Hoodie", "129.00", 5),
    ("packs", "Ascent 28L Daypack", "119.00", 8),
    ("packs", "Traverse 48L Backpack", "219.00", 5),
    ("packs", "Expedition 65L Pack", "289.00", 3),
    ("packs", "Ridge 12L Hydration Vest", "99.00", 4),
    ("packs", "Summit Sling 6L", "49.00", 5),
    ("packs", "Voyager 40L Travel Pack", "179.00", 4),
    ("packs", "Hydration Reservoir 2L", "34.00", 4),
    ("packs", "Roll-Top Dry Bag Set", "39.00", 4),
    ("camping", "Nomad 2-Person Tent", "329.00", 5),
    ("camping", "Basecamp 4-Person Tent", "449.00", 2),
    ("camping", "Ember 20°F Down Sleeping Bag", "299.00", 4),
    ("camping", "Trailnest Insulated Sleeping Pad", "129.00", 5),
    ("camping", "Summit Titanium Cookset", "79.00", 4),
    ("camping", "Flicker Canister Stove", "59.00", 4),
    ("camping", "Canyon Camp Chair", "69.00", 5),
    ("camping", "Glow 400 Headlamp", "39.95", 7),
    ("accessories", "Merino Hiking Sock", "22.00", 12),
    ("accessories", "Merino Cuffed Beanie", "32.00", 7),
    ("accessories", "Trail Cap", "28.00", 6),
    ("accessories", "Polarized Trail Sunglasses", "89.00", 3),
    ("accessories", "Carbon Trekking Poles", "149.00", 3),
    ("accessories", "Insulated Bottle 32 oz", "34.95", 8),
    ("accessories", "Touchscreen Liner Gloves", "29.00", 5),
    ("accessories", "Trail Repair Kit", "14.95", 4),
)
SKU_PREFIX = {
    "footwear": "FW",
    "jackets": "JK",
    "packs": "PK",
    "camping": "CP",
    "accessories": "AC",
}
IN_SEASON = {"jackets": {10, 11, 12, 1, 2}, "camping": {4, 5, 6, 7, 8}, "footwear": {3, 4, 5, 9}}
SMALL_PARCEL = {"accessories"}


class Place(NamedTuple):
    area_code: str
    city: str
    state: str
    timezone: str
    tax_rate: str  # combined state and local sales tax
    weight: int  # how many of the store's shoppers live here
    latitude: float
    longitude: float


PLACES = tuple(Place(*row) for row in (
    ("212", "New York", "NY", "America/New_York", "0.08875", 9, 40.7, -74.0),
    ("718", "Brooklyn", "NY", "America/New_York", "0.08875", 7, 40.7, -73.9),
    ("617", "Boston", "MA", "America/New_York", "0.0625", 6, 42.4, -71.1),
    ("802", "Burlington", "VT", "America/New_York", "0.07", 3, 44.5, -73.2),
    ("207", "Portland", "ME", "America/New_York", "0.055", 2, 43.7, -70.3),
    ("603", "Manchester", "NH", "America/New_York", "0", 2, 43.0, -71.5),
    ("215", "Philadelphia", "PA", "America/New_York", "0.08", 5, 40.0, -75.2),
    ("202", "Washington", "DC", "America/New_York", "0.06", 4, 38.9, -77.0),
    ("404", "Atlanta", "GA", "America/New_York", "0.089", 4, 33.7, -84.4),
    ("828", "Asheville", "NC", "America/New_York", "0.07", 3, 35.6, -82.6),
    ("305", "Miami", "FL", "America/New_York", "0.07", 3, 25.8, -80.2),
    ("312", "Chicago", "IL", "America/Chicago", "0.1025", 6, 41.9, -87.6),
    ("612", "Minneapolis", "MN", "America/Chicago", "0.08025", 4, 45.0, -93.3),
    ("512", "Austin", "TX", "America/Chicago", "0.0825", 5, 30.3, -97.7),
    ("615", "Nashville", "TN", "America/Chicago", "0.0925", 3, 36.2, -86.8),
    ("303", "Denver", "CO", "America/Denver", "0.0881", 7, 39.7, -105.0),
    ("970", "Fort Collins", "CO", "America/Denver", "0.0755", 3, 40.6, -105.1),
    ("801", "Salt Lake City", "UT", "America/Denver", "0.0775", 4, 40.8, -111.9),
    ("406", "Bozeman", "MT", "America/Denver", "0", 2, 45.7, -111.0),
    ("208", "Boise", "ID", "America/Boise", "0.06", 2, 43.6, -116.2),
    ("602", "Phoenix", "AZ", "America/Phoenix", "0.086", 3, 33.4, -112.1),
    ("206", "Seattle", "WA", "America/Los_Angeles", "0.1035", 7, 47.6, -122.3),
    ("503", "Portland", "OR", "America/Los_Angeles", "0", 6, 45.5, -122.7),
    ("415", "San Francisco", "CA", "America/Los_Angeles", "0.08625", 6, 37.8, -122.4),
    ("213", "Los Angeles", "CA", "America/Los_Angeles", "0.095", 5, 34.1, -118.2),
    ("619", "San Diego", "CA", "America/Los_Angeles", "0.0775", 3, 32.7, -117.2),
    ("907", "Anchorage", "AK", "America/Anchorage", "0", 1, 61.2, -149.9),
))  # fmt: skip
# The first three digits of each place's ZIP codes (by area code: two Portlands), for the
# demo's shipping addresses, so the demo store's orders can be looked up by postcode.
ZIP_PREFIXES = {
    "212": "100", "718": "112", "617": "021", "802": "054", "207": "041", "603": "031",
    "215": "191", "202": "200", "404": "303", "828": "288", "305": "331", "312": "606",
    "612": "554", "512": "787", "615": "372", "303": "802", "970": "805", "801": "841",
    "406": "597", "208": "837", "602": "850", "206": "981", "503": "972", "415": "941",
    "213": "900", "619": "921", "907": "995",
}  # fmt: skip
STREETS = (
    "Main Street", "Oak Avenue", "Maple Street", "Cedar Lane", "Pine Street", "Elm Street",
    "Washington Avenue", "Lake Road", "Hill Street", "Park Avenue", "River Road", "Spruce Court",
)  # fmt: skip
# Shoppers in these zones are served from the western fulfilment centre.
WEST = {
    "America/Denver",
    "America/Boise",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
}

_FIRST_NAMES = """Olivia Liam Emma Noah Ava Elijah Sophia James Isabella William Mia Benjamin
Charlotte Lucas Amelia Henry Harper Theodore Evelyn Jack Abigail Levi Emily Alexander Ella Jackson
Elizabeth Mateo Camila Daniel Luna Michael Sofia Mason Avery Sebastian Mila Ethan Aria Logan Nora
Owen Penelope Samuel Layla Jacob Chloe Asher Victoria Aiden Madison John Eleanor Joseph Grace Wyatt
Riley Leo Zoey Luke Hannah Julian Hazel Hudson Lily Grayson Ellie Matthew Violet Ezra Lillian
Gabriel Stella Isaac Aurora Diego Valentina Carlos Lucia Omar Fatima Kwame Amara Priya Rohan
Mei Wei Hiroshi Yuki Tomasz Ingrid Maya Andre Keisha Darnell Rosa Nikhil Anika"""
FIRST_NAMES = tuple(_FIRST_NAMES.split())
_LAST_NAMES = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores
Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner
Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz
Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez
Wood Bennett Gray Mendoza Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Powell
Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Fisher Chen Wang Singh Tanaka
Nakamura Kowalski Larsen Okafor O'Brien Lindqvist Haddad"""
LAST_NAMES = tuple(_LAST_NAMES.split())
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
INTERESTS = {
    "hiker": "footwear",
    "trail-runner": "footwear",
    "camper": "camping",
    "backpacker": "packs",
    "skier": "jackets",
    "gift-buyer": "accessories",
}

CARRIERS = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
}
# The two fulfilment centres and the carriers' sort hubs, with their coordinates.
WAREHOUSES = {"east": ("Allentown, PA", 40.6, -75.5), "west": ("Reno, NV", 39.5, -119.8)}
HUBS = (
    ("Parsippany, NJ", 40.9, -74.4), ("Springfield, MA", 42.1, -72.6),
    ("Harrisburg, PA", 40.3, -76.9), ("Columbus, OH", 40.0, -83.0),
    ("Louisville, KY", 38.2, -85.7), ("Indianapolis, IN", 39.8, -86.2),
    ("Hodgkins, IL", 41.8, -87.9), ("Charlotte, NC", 35.2, -80.8),
    ("Atlanta, GA", 33.7, -84.4), ("Jacksonville, FL", 30.3, -81.7),
    ("Memphis, TN", 35.1, -90.0), ("Dallas, TX", 32.8, -96.8),
    ("Kansas City, MO", 39.1, -94.6), ("Minneapolis, MN", 45.0, -93.3),
    ("Salt Lake City, UT", 40.8, -111.9), ("Boise, ID", 43.6, -116.2),
    ("Sacramento, CA", 38.6, -121.5), ("Ontario, CA", 34.1, -117.6),
    ("Phoenix, AZ", 33.4, -112.1), ("Portland, OR", 45.5, -122.7),
    ("Seattle, WA", 47.6, -122.3), ("Denver, CO", 39.7, -105.0),
)  # fmt: skip
DELIVERED_TEXT = (
    "Delivered, front door",
    "Delivered, left at front porch",
    "Delivered to mailroom",
    "Delivered, handed to resident",
    "Delivered to parcel locker",
)
ATTEMPT_TEXT = (
    "Delivery attempted: no safe place to leave the parcel",
    "Delivery attempted: business closed",
    "Delivery attempted: access code required",
)
STUCK_TEXT = (
    "Package damaged in transit; awaiting instructions from the shipper",
    "Address information incomplete; the shipper has been contacted",
    "Held at facility: delivery address could not be verified",
)
CANCEL_REASONS = {"customer": 6, "inventory": 2, "fraud": 1, "declined": 1}  # and their weights
LABEL, TRANSIT, OUT, DELIVERED = "info_received", "in_transit", "out_for_delivery", "delivered"
EXCEPTION, RETURNED = "exception", "returned_to_sender"
