"""attnkit.serve: the HTTP API and the attention explorer page (``attnkit serve``).

Needs the ``serve`` extra (fastapi, uvicorn): ``pip install 'attnkit[serve]'``.
"""

from attnkit.serve.app import SERVED_TASKS, TagRequest, TranslateRequest, create_app

__all__ = ["SERVED_TASKS", "TagRequest", "TranslateRequest", "create_app"]
