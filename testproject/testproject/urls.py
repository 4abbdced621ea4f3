import hashlib

from django.contrib import admin
from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from . import secure_api
from .api import api


def plain_view(request):
    return HttpResponse(f"django view: {request.method} {request.path}", content_type="text/plain")


def stream_view(request):
    count = int(request.GET.get("n", "5"))
    return StreamingHttpResponse((f"chunk {i}\n" for i in range(count)), content_type="text/plain")


def file_view(request):
    return FileResponse(open(__file__, "rb"), as_attachment=True, filename="urls.py")


def slow_view(request):
    """A page that takes ?seconds= to render (for the timeout tests)."""
    import time

    time.sleep(min(float(request.GET.get("seconds", "1")), 10.0))
    return HttpResponse("slow page", content_type="text/plain")


def numbers_stream_view(request):
    """Numbers read from the database a hundred at a time, one cursor open across every
    chunk of the stream (``?count=``, each line padded by ``?pad=`` bytes)."""
    from django.db import connection

    count = int(request.GET.get("count", "1000"))
    pad = "." * int(request.GET.get("pad", "0"))

    def produce():
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
                "SELECT i FROM n",
                [count],
            )
            while rows := cursor.fetchmany(100):
                yield "".join(f"{i} {pad}\n" for (i,) in rows)

    return StreamingHttpResponse(produce(), content_type="text/plain")


def slow_stream_view(request):
    import time

    def produce():
        for i in range(3):
            yield f"part {i}\n"
            time.sleep(0.6)

    return StreamingHttpResponse(produce(), content_type="text/plain")


@csrf_exempt
def upload_view(request):
    """What Django received: each file's size and SHA-256, and the text fields."""
    files = {}
    for name, upload in request.FILES.items():
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        files[name] = {"size": upload.size, "sha256": digest.hexdigest()}
    return JsonResponse({"files": files, "fields": request.POST.dict()})


def request_id_view(request):
    return HttpResponse(request.headers.get("X-Request-ID", ""), content_type="text/plain")


def whoami_view(request):
    """What Django makes of the client: address, scheme and absolute URL."""
    return JsonResponse(
        {
            "remote_addr": request.META["REMOTE_ADDR"],
            "secure": request.is_secure(),
            "uri": request.build_absolute_uri(),
        }
    )


def boom_view(request):
    raise RuntimeError("django view failure")


urlpatterns = [
    path("api/", api.urls),
    path("secure/", secure_api.api.urls),
    path("admin/", admin.site.urls),
    path("django/plain/", plain_view),
    path("django/stream/", stream_view),
    path("django/file/", file_view),
    path("django/slow/", slow_view),
    path("django/numbers/", numbers_stream_view),
    path("django/slow-stream/", slow_stream_view),
    path("django/boom/", boom_view),
    path("django/upload/", upload_view),
    path("django/request-id/", request_id_view),
    path("django/whoami/", whoami_view),
]
