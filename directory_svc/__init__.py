"""Operator directory base: subscriber listings, R10 privacy choices and publisher feeds."""
