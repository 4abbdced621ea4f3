"""Tokens for Django users and the user behind a request (also in ``django_bolt.auth``)."""

from .tokens import (
    acreate_jwt_for_user,
    create_jwt_for_user,
    extract_user_id_from_context,
    get_current_user,
)

__all__ = [
    "acreate_jwt_for_user",
    "create_jwt_for_user",
    "extract_user_id_from_context",
    "get_current_user",
]
