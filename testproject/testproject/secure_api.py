"""A second API, mounted at /secure/: token-protected, CORS and compression in Rust."""

from django_bolt import BoltAPI, Request
from django_bolt.auth import HasPermission, IsAuthenticated, JWTAuthentication
from django_bolt.middleware import CompressionMiddleware, CORSMiddleware
from django_bolt.websocket import WebSocket

api = BoltAPI(
    guards=[IsAuthenticated],  # JWTAuthentication from settings.JWT_SECRET_KEY
    middleware=[
        CORSMiddleware(allow_origins=["https://app.example.com"], allow_credentials=True),
        CompressionMiddleware(minimum_size=100),
    ],
)


@api.get("/me")
async def me(request: Request):
    return {"user_id": request.context["user_id"], "padding": "bolt " * 200}


@api.post("/reports", guards=[HasPermission("reports.add")])
async def add_report(request: Request):
    return {"created": True}


@api.websocket(
    "/ws",
    # The Authorization header, or for browsers ?token= or the "access" cookie.
    auth=[JWTAuthentication(query="token", cookie="access")],
    guards=[IsAuthenticated],
)
async def secure_ws(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_json({"user_id": websocket.context["user_id"]})
    await websocket.close()
