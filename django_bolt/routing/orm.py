"""Handler results that read the database when they are rendered: QuerySets and model
instances, returned the way the seeds return them ("or you could just return the
queryset")."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet


def is_lazy_orm(result: Any) -> bool:
    """True when rendering ``result`` may query the database: a QuerySet, a model
    instance (its relations load on access), or a list of model instances."""
    if isinstance(result, (QuerySet, Model)):
        return True
    return type(result) is list and bool(result) and isinstance(result[0], Model)


def evaluated(result: Any) -> Any:
    """A QuerySet as the list of its rows (what a declared ``list[...]`` type takes);
    anything else as it is."""
    return list(result) if isinstance(result, QuerySet) else result
