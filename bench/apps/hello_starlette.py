"""Starlette `Hello World` for uvicorn (`uvicorn hello_starlette:app`)."""
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse('Hello World')


app = Starlette(routes=[Route('/', hello)])
