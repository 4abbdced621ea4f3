"""Helpers for handlers and views: ``django_bolt.utils.decorators``."""
