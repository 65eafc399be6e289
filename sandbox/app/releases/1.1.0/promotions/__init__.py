"""Promotions (release 1.1.0): current offers, a Promotions page and a banner on the product list."""
