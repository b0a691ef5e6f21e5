"""The Jinja environment, the template config and the static files router.

Templates are autoescaped (every name, tagline and rationale is someone's
free text) and strict, and get the filters of :mod:`api.web.present`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.file_system import BaseLocalFileSystem
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_404_NOT_FOUND
from litestar.template.config import TemplateConfig
from litestar.types import PathType
from litestar.types.file_types import FileInfo

from api.web.present import FILTERS

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def environment() -> Environment:
    """The Jinja environment: autoescaped, strict, with the page filters.

    ``StrictUndefined`` turns a misspelt variable into an error a test sees
    rather than a silently blank figure on the page.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The template configuration the app factory installs."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


class StaticFiles(BaseLocalFileSystem):
    """The local file system, where a path with a NUL byte names no file.

    The operating system refuses such a path with ``ValueError``, which
    would answer 500; a missing file is the 404 it deserves.
    """

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        if "\x00" in str(path):
            raise FileNotFoundError(path)
        return await super().info(path, **kwargs)


def static_router() -> Router:
    """Serves ``static/`` (one stylesheet, one script) under /static."""
    return create_static_files_router(
        path="/static",
        directories=[STATIC],
        name="static",
        cache_control=CacheControlHeader(max_age=300),
        file_system=StaticFiles(),
    )


def not_found_page(title: str, detail: str, links: list[tuple[str, str]]) -> Template:
    """A 404 page that says what was missing and where to go instead."""
    return Template(
        "not_found.html",
        context={"title": title, "detail": detail, "links": links},
        status_code=HTTP_404_NOT_FOUND,
    )
