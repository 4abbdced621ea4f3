"""``cache_page(seconds)``: a GET route's answers kept and served again, from Rust memory
without Python, with Django's cache shared by the processes.

    @api.get("/data")
    @cache_page(60 * 15)
    async def get_data(request): ...
"""

from .middleware.cache import CachePage, cache_page

__all__ = ["CachePage", "cache_page"]
