"""Delivering events: fan-out into deliveries, signed requests, retries, the worker loop."""
