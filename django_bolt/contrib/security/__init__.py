"""The headers Django's SecurityMiddleware and XFrameOptionsMiddleware put on every
Django page, for API routes: read once from the settings, added in Rust."""

from __future__ import annotations

from typing import Any

SECURITY_MIDDLEWARE = "django.middleware.security.SecurityMiddleware"
XFRAME_MIDDLEWARE = "django.middleware.clickjacking.XFrameOptionsMiddleware"


def _referrer_policy(value: Any) -> str:
    """As Django writes it: a string's values stripped, a list's joined as they are."""
    if isinstance(value, str):
        return ",".join(v.strip() for v in value.split(","))
    return ",".join(str(v) for v in value)


def security_headers_spec() -> dict[str, Any] | None:
    """What Rust adds to API answers, as Django's middleware would (None when neither
    middleware is in MIDDLEWARE). Headers an answer sets itself are kept."""
    from django.conf import settings

    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    always: list[tuple[str, str]] = []
    spec: dict[str, Any] = {"always": always}
    if SECURITY_MIDDLEWARE in middleware:
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            always.append(("x-content-type-options", "nosniff"))
        if settings.SECURE_REFERRER_POLICY:
            always.append(("referrer-policy", _referrer_policy(settings.SECURE_REFERRER_POLICY)))
        if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
            always.append(
                ("cross-origin-opener-policy", str(settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
            )
        if settings.SECURE_HSTS_SECONDS:
            hsts = f"max-age={int(settings.SECURE_HSTS_SECONDS)}"
            if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                hsts += "; includeSubDomains"
            if settings.SECURE_HSTS_PRELOAD:
                hsts += "; preload"
            spec["hsts"] = hsts
            proxy = settings.SECURE_PROXY_SSL_HEADER
            if proxy:
                meta_name, value = proxy
                name = meta_name.removeprefix("HTTP_").replace("_", "-").lower()
                spec["secure_proxy_header"] = (name, str(value))
    if XFRAME_MIDDLEWARE in middleware:
        always.append(
            ("x-frame-options", str(getattr(settings, "X_FRAME_OPTIONS", "DENY")).upper())
        )
    if not always and "hsts" not in spec:
        return None
    return spec
