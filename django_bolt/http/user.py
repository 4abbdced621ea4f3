"""The user a request carries: a ``TokenUser`` built from token claims without a query,
or a Django user loaded with the async ORM."""

from __future__ import annotations

from typing import Any


def is_loaded(user: Any) -> bool:
    from django.utils.functional import SimpleLazyObject, empty

    return not (isinstance(user, SimpleLazyObject) and user._wrapped is empty)


async def load_user(user_id: Any) -> Any:
    """The active user with this primary key, or None."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    model = get_user_model()
    try:
        pk = model._meta.pk.to_python(user_id)
    except (ValidationError, ValueError, TypeError):
        return None
    try:
        user = await model._default_manager.aget(pk=pk)
    except model.DoesNotExist:
        return None
    if not getattr(user, "is_active", True):
        return None
    return user


class TokenUser:
    """``request.user`` for a request authenticated by a token: ``id`` / ``pk`` and the
    flags come from the claims without a query; any other attribute loads the user from
    the database (in async code, ``await request.auser()`` loads it first)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context
        self._loaded: Any = None

    @property
    def pk(self) -> Any:
        from django.contrib.auth import get_user_model

        return get_user_model()._meta.pk.to_python(self._context.get("user_id"))

    @property
    def id(self) -> Any:
        return self.pk

    @property
    def is_staff(self) -> bool:
        return bool(self._context.get("is_staff"))

    @property
    def is_superuser(self) -> bool:
        return bool(self._context.get("is_superuser"))

    def _load(self) -> Any:
        if self._loaded is None:
            from django.contrib.auth import get_user_model

            model = get_user_model()
            self._loaded = model._default_manager.get(pk=self.pk)
        return self._loaded

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._load(), name)

    def __eq__(self, other: object) -> bool:
        return getattr(other, "pk", None) == self.pk and other is not None

    def __hash__(self) -> int:
        return hash(self.pk)

    def __repr__(self) -> str:
        return f"<TokenUser {self._context.get('user_id')}>"
