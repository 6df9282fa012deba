"""Static pages served by the service (the customer preferences form)."""
