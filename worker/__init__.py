"""scorechat's service mode: Celery tasks serving the score chat API.

``scorechat.message`` and ``scorechat.end_session`` answer with the same JSON as
``scorechat message --json``. The tasks are a thin shell around ``engine.service``; this
package imports the engine and Celery, never ``tui`` or ``textual`` (an import contract).
Celery is an optional extra: ``pip install 'scorechat[worker]'``.
"""

from engine.service import generate_chat_id

__all__ = ["generate_chat_id"]
