"""Model serializers: msgspec types generated from a Django model.

    class AuthorSerializer(ModelSerializer):
        class Meta:
            model = Author
            fields = ["id", "name"]

    class ArticleSerializer(ModelSerializer):
        author = AuthorSerializer()               # nested (else the author's id)
        class Meta:
            model = Article
            fields = ["id", "title", "status", "author", "tags"]
            read_only_fields = ["id"]

From the model: types, ``null`` (optional), ``max_length``, ``blank`` (a required string
may not be empty), ``choices`` (an Enum of the values), defaults (a field with a default
may be left out on create). Foreign keys appear as ids (under the field's name), many-to-
many fields as lists of ids, unless a nested serializer is declared. Encoding goes
through msgspec; ``related_fields()`` tells ModelViewSet what to ``select_related`` /
``prefetch_related`` so a list costs a fixed number of queries.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any, ClassVar

import msgspec
from django.core.exceptions import FieldDoesNotExist
from django.db import models

__all__ = ["ModelSerializer"]

_SCALARS: list[tuple[type[models.Field], Any]] = [
    (models.BooleanField, bool),
    (models.BigAutoField, int),
    (models.AutoField, int),
    (models.SmallAutoField, int),
    (models.IntegerField, int),  # and its Big/Small/Positive variants
    (models.FloatField, float),
    (models.DecimalField, decimal.Decimal),
    (models.DateTimeField, datetime.datetime),
    (models.DateField, datetime.date),
    (models.TimeField, datetime.time),
    (models.DurationField, datetime.timedelta),
    (models.UUIDField, uuid.UUID),
    (models.JSONField, Any),
    (models.BinaryField, bytes),
    (models.FileField, str),
    (models.CharField, str),  # Email, Slug, URL...
    (models.TextField, str),
]


def _scalar(field: models.Field) -> Any:
    for base, tp in _SCALARS:
        if isinstance(field, base):
            return tp
    return Any


class _Spec:
    """One serialized field."""

    __slots__ = ("name", "attr", "field", "nested", "many", "read_only")

    def __init__(
        self,
        name: str,
        attr: str,
        field: models.Field | None,
        nested: Any,
        many: bool,
        read_only: bool,
    ) -> None:
        self.name = name  # on the wire
        self.attr = attr  # on the model instance
        self.field = field
        self.nested = nested  # a ModelSerializer instance, or None
        self.many = many
        self.read_only = read_only


class ModelSerializer:
    """Declare ``Meta.model`` and ``Meta.fields`` (a list or ``"__all__"``) or
    ``Meta.exclude``; ``Meta.read_only_fields`` are output only. Nested serializers are
    declared as class attributes (``many=True`` for reverse and many-to-many relations)."""

    Meta: ClassVar[Any]
    _built: ClassVar[dict[str, Any] | None] = None

    def __init__(self, many: bool = False) -> None:
        self.many = many

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._built = None
        meta = getattr(cls, "Meta", None)
        if meta is None or getattr(meta, "model", None) is None:
            raise TypeError(f"{cls.__name__}.Meta.model is required")
        if getattr(meta, "fields", None) is None and getattr(meta, "exclude", None) is None:
            raise TypeError(f"{cls.__name__}.Meta needs `fields` or `exclude`")

    # -- the generated types -----------------------------------------------------------
    @classmethod
    def _build(cls) -> dict[str, Any]:
        if cls._built is not None:
            return cls._built
        meta = cls.Meta
        model = meta.model
        opts = model._meta
        declared = {
            name: value
            for klass in reversed(cls.__mro__)
            for name, value in vars(klass).items()
            if isinstance(value, ModelSerializer)
        }
        fields = getattr(meta, "fields", None)
        if fields in (None, "__all__"):
            names = [f.name for f in opts.concrete_fields] + [f.name for f in opts.many_to_many]
        else:
            names = list(fields)
        names = [n for n in names if n not in set(getattr(meta, "exclude", None) or ())]
        read_only = set(getattr(meta, "read_only_fields", None) or ())
        specs: list[_Spec] = []
        for name in names:
            nested = declared.get(name)
            try:
                field = opts.get_field(name)
            except FieldDoesNotExist:
                if name == "pk":
                    field = opts.pk
                elif nested is None:
                    raise TypeError(
                        f"{cls.__name__}: {model.__name__} has no field {name!r}"
                    ) from None
                else:
                    field = None
            many = bool(
                (nested is not None and nested.many)
                or (field is not None and (field.many_to_many or field.one_to_many))
            )
            if field is not None and field.is_relation and nested is None and not many:
                attr = field.attname  # the id, under the field's name
            else:
                attr = name
            auto = field is not None and (
                isinstance(field, models.AutoField) or not field.editable or field.primary_key
            )
            ro = name in read_only or auto or nested is not None or (field is None)
            ro = ro or (field is not None and field.one_to_many)
            ro = ro or isinstance(field, models.FileField)  # uploads are not JSON
            specs.append(_Spec(name, attr, field, nested, many, ro))
        built = {
            "specs": specs,
            "output": cls._make_output(specs),
            "input": cls._make_input(specs, partial=False),
            "partial": cls._make_input(specs, partial=True),
            # Managers and files cannot be read as plain attributes: build dicts first.
            "needs_dicts": any(
                s.many
                or isinstance(s.field, models.FileField)
                or (s.nested is not None and type(s.nested)._has_many())
                for s in specs
            ),
        }
        cls._built = built
        return built

    @classmethod
    def _has_many(cls) -> bool:
        return cls._build()["needs_dicts"]

    @classmethod
    def _value_type(cls, spec: _Spec) -> Any:
        field = spec.field
        if spec.nested is not None:
            inner = type(spec.nested).output_type()
            tp: Any = list[inner] if spec.many else inner
        elif spec.many:
            assert field is not None
            tp = list[_scalar(field.related_model._meta.pk)]  # type: ignore[union-attr]
        elif field is not None and field.is_relation:
            tp = _scalar(field.target_field)  # type: ignore[attr-defined]
        elif isinstance(field, models.FileField):
            tp = str | None  # the stored name
        elif field is not None and field.choices:
            tp = _choices_enum(field)
        elif field is not None:
            tp = _scalar(field)
        else:
            tp = Any
        if field is not None and field.null and not spec.many:
            tp = tp | None
        return tp

    @classmethod
    def _make_output(cls, specs: list[_Spec]) -> type[msgspec.Struct]:
        fields = [
            (spec.attr, cls._value_type(spec), msgspec.field(name=spec.name)) for spec in specs
        ]
        return msgspec.defstruct(f"{cls.__name__}Out", fields, module=cls.__module__)

    @classmethod
    def _make_input(cls, specs: list[_Spec], *, partial: bool) -> type[msgspec.Struct]:
        required: list[tuple[Any, ...]] = []
        optional: list[tuple[Any, ...]] = []
        for spec in specs:
            if spec.read_only:
                continue
            field = spec.field
            tp = _constrained(cls._value_type(spec), field)
            has_default = field is not None and (
                field.has_default() or field.null or field.blank or spec.many
            )
            if partial or has_default:
                optional.append(
                    (
                        spec.attr,
                        tp | msgspec.UnsetType,
                        msgspec.field(name=spec.name, default=msgspec.UNSET),
                    )
                )
            else:
                required.append((spec.attr, tp, msgspec.field(name=spec.name)))
        kind = "Patch" if partial else "In"
        return msgspec.defstruct(
            f"{cls.__name__}{kind}",
            required + optional,
            module=cls.__module__,
            forbid_unknown_fields=True,
        )

    @classmethod
    def output_type(cls) -> type[msgspec.Struct]:
        return cls._build()["output"]

    @classmethod
    def input_type(cls, partial: bool = False) -> type[msgspec.Struct]:
        return cls._build()["partial" if partial else "input"]

    @classmethod
    def related_fields(cls) -> tuple[list[str], list[str]]:
        """(select_related, prefetch_related) paths for the nested and many fields."""
        select: list[str] = []
        prefetch: list[str] = []
        for spec in cls._build()["specs"]:
            if spec.many:
                prefetch.append(spec.attr)
                if spec.nested is not None:
                    sub_select, sub_prefetch = type(spec.nested).related_fields()
                    prefetch += [f"{spec.attr}__{p}" for p in sub_select + sub_prefetch]
            elif spec.nested is not None:
                select.append(spec.attr)
                sub_select, sub_prefetch = type(spec.nested).related_fields()
                select += [f"{spec.attr}__{p}" for p in sub_select]
                prefetch += [f"{spec.attr}__{p}" for p in sub_prefetch]
        return select, prefetch

    # -- encoding ----------------------------------------------------------------------
    @classmethod
    def _as_dict(cls, obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in cls._build()["specs"]:
            value = getattr(obj, spec.attr)
            if spec.many:
                items = list(value.all())
                if spec.nested is not None:
                    value = [type(spec.nested)._as_dict(i) for i in items]
                else:
                    value = [i.pk for i in items]
            elif spec.nested is not None and value is not None:
                value = type(spec.nested)._as_dict(value)
            elif isinstance(spec.field, models.FileField):
                value = value.name or None
            out[spec.name] = value
        return out

    @classmethod
    def serialize(cls, obj: Any) -> Any:
        """One instance as the output Struct."""
        built = cls._build()
        if built["needs_dicts"]:
            return msgspec.convert(cls._as_dict(obj), built["output"])
        return msgspec.convert(obj, built["output"], from_attributes=True)

    @classmethod
    def serialize_many(cls, objs: Any) -> list[Any]:
        built = cls._build()
        output = built["output"]
        many = list[output]
        if built["needs_dicts"]:
            return msgspec.convert([cls._as_dict(o) for o in objs], many)
        return msgspec.convert(list(objs), many, from_attributes=True)

    # -- writing -----------------------------------------------------------------------
    @classmethod
    def write_values(cls, data: msgspec.Struct) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        """(model field values, many-to-many ids) from a decoded input Struct; fields
        left out are not included."""
        values: dict[str, Any] = {}
        many: dict[str, list[Any]] = {}
        for spec in cls._build()["specs"]:
            if spec.read_only:
                continue
            value = getattr(data, spec.attr, msgspec.UNSET)
            if value is msgspec.UNSET:
                continue
            if isinstance(value, enum.Enum):
                value = value.value
            if spec.many:
                many[spec.name] = list(value)
            else:
                values[spec.attr] = value
        return values, many


def _constrained(tp: Any, field: models.Field | None) -> Any:
    from typing import Annotated

    if field is None:
        return tp
    constraints: dict[str, Any] = {}
    base = tp
    nullable = False
    args = getattr(tp, "__args__", None)
    if args and type(None) in args and len(args) == 2:
        base = next(a for a in args if a is not type(None))
        nullable = True
    if base is str:
        max_length = getattr(field, "max_length", None)
        if max_length:
            constraints["max_length"] = max_length
        if not field.blank:
            constraints["min_length"] = 1
    if isinstance(field, (models.PositiveIntegerField, models.PositiveSmallIntegerField)):
        constraints["ge"] = 0
    if not constraints:
        return tp
    constrained = Annotated[base, msgspec.Meta(**constraints)]
    return constrained | None if nullable else constrained


_ENUMS: dict[tuple[type, str], type[enum.Enum]] = {}


def _choices_enum(field: models.Field) -> type[enum.Enum]:
    key = (field.model, field.name)
    made = _ENUMS.get(key)
    if made is None:
        values = [value for value, _label in field.flatchoices]
        base: type = str if all(isinstance(v, str) for v in values) else int
        members = {f"V{i}": v for i, v in enumerate(values)}
        name = f"{field.model.__name__}{field.name.title().replace('_', '')}"
        made = _ENUMS[key] = enum.Enum(name, members, type=base)  # type: ignore[misc]
    return made
