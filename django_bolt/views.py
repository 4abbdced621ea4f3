"""ViewSets: class-based routes, and model ViewSets with serializers and pagination."""

from .routing.viewsets import ModelViewSet, ReadOnlyModelViewSet, ViewSet, action, route

__all__ = ["ModelViewSet", "ReadOnlyModelViewSet", "ViewSet", "route", "action"]
