"""Score files on disk: discovery, names, the path sandbox, the write lock, atomic writes.

A workspace is a folder of scorecards, each a folder of scores:
``<root>/<Scorecard Name>/<Score Name>.yaml``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import AmbiguousError, NotFoundError, SandboxError, UsageError, YamlError

__all__ = ["ScoreRef", "Workspace", "atomic_write", "read_text"]

YAML_SUFFIXES = (".yaml", ".yml")
MAX_PATH_CHARS = 1024
MAX_FILE_BYTES = 5 * 1024 * 1024
#: The lock file, at the workspace root, that every process takes around a check-and-write.
LOCK_NAME = ".scorechat.lock"
#: How long a writer waits for another process's write before giving up.
LOCK_TIMEOUT = 30.0


@dataclass(frozen=True)
class ScoreRef:
    """One score file of the workspace."""

    scorecard: str
    """The scorecard's folder name."""
    score: str
    """The score's name: its ``name:`` key, else the file's stem."""
    path: Path
    """The absolute path of the YAML file."""
    rel_path: str
    """The path relative to the workspace root, with ``/`` separators."""
    key: str | None = None
    id: str | None = None
    cls: str | None = None
    size: int = 0
    lines: int = 0
    entry: str | None = None
    """The score's name inside a scorecard file that lists several under ``scores:``
    (Plexus's scorecard layout); ``None`` when the file is the score."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "scorecard": self.scorecard,
            "score": self.score,
            "key": self.key,
            "id": self.id,
            "class": self.cls,
            "path": str(self.path),
            **({"entry": self.entry} if self.entry is not None else {}),
        }


_SCORES_KEY = re.compile(rb"^scores:[ \t]*(#.*)?\r?$", re.MULTILINE)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


#: What a scalar that is no plain name may start with, in the head scan.
NOT_A_PLAIN_NAME = "|>[{&*!@`%"
_HEAD_KEYS = re.compile(r"^(name|key|id|class):(?:[ \t]+(.*))?$")
#: A quoted scalar at the start of a value: "..." (with \" inside) or '...' (with '').
#: Where a plain scalar's comment starts: a ``#`` after a blank.
_COMMENT = re.compile(r"[ \t]#")
_QUOTED = re.compile(r"""\"((?:[^"\\]|\\.)*)\"|'((?:[^']|'')*)'""")


def _head_value(rest: str) -> str | None:
    """A top-level key's value as a name, when it is a plain or quoted string on its
    line; ``None`` for anything else (a block scalar, a flow collection, an anchor, an
    alias or a tag, an open quote): the file's stem then names the score."""
    rest = rest.strip()
    if rest[:1] in ("'", '"'):
        quoted = _QUOTED.match(rest)
        if quoted is None:
            return None
        if quoted.group(1) is not None:  # YAML's double-quoted escapes hold JSON's
            try:
                inner = json.loads(f'"{quoted.group(1)}"')
            except ValueError:
                inner = quoted.group(1)
        else:
            inner = quoted.group(2).replace("''", "'")
        return inner.strip() or None
    plain = _COMMENT.split(rest, maxsplit=1)[0].strip()
    if not plain or plain[0] in NOT_A_PLAIN_NAME:
        return None
    return plain


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _read_head(data: bytes | None) -> tuple[dict[str, str], int, int]:
    """The top-level name/key/id/class of a score without a full YAML parse (fast for lists)."""
    found: dict[str, str] = {}
    if data is None:
        return found, 0, 0
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    for line in text.splitlines():
        match = _HEAD_KEYS.match(line)
        if match and match.group(1) not in found:
            value = _head_value(match.group(2) or "")
            if value is not None:
                found[match.group(1)] = value
        if len(found) == 4:
            break
    return found, len(data), text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def normalise(text: str) -> str:
    """Lower case, letters and digits only: how names are compared."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def fuzzy_score(query: str, candidate: str) -> int | None:
    """How well ``query`` matches ``candidate``; ``None`` when it does not match at all.

    Exact (ignoring case and punctuation) beats prefix, beats substring, beats a
    subsequence of characters. Higher is better.
    """
    return fuzzy_score_normalised(normalise(query), normalise(candidate))


def fuzzy_score_normalised(q: str, c: str) -> int | None:
    """``fuzzy_score`` for strings already passed through ``normalise``."""
    if not q:
        return 0
    if q == c:
        return 1000
    if c.startswith(q):
        return 800 - len(c)
    index = c.find(q)
    if index >= 0:
        return 600 - index - len(c) // 4
    # Subsequence: every character in order; tighter spans score higher.
    pos, start, gaps = 0, -1, 0
    for ch in q:
        found = c.find(ch, pos)
        if found < 0:
            return None
        if start < 0:
            start = found
        elif found > pos:
            gaps += found - pos
        pos = found + 1
    return 300 - gaps * 4 - start


class Workspace:
    """The score files under one root folder."""

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser().resolve()

    # ---- discovery -------------------------------------------------------------------

    def exists(self) -> bool:
        return self.root.is_dir()

    def scores(self, refresh: bool = False) -> list[ScoreRef]:
        """Every score, sorted by scorecard then score name."""
        if not self.root.is_dir():
            raise UsageError(f"The workspace {self.root} does not exist or is not a folder.")
        refs: list[ScoreRef] = []
        for item in sorted(self.root.iterdir(), key=lambda p: p.name.lower()):
            if item.name.startswith(".") or not self.inside(item):
                continue  # hidden, or a symlink that leaves the workspace
            if item.is_file() and item.suffix.lower() in YAML_SUFFIXES:
                refs.extend(self._scorecard_entries(item))  # a scorecard file at the top
                continue
            if not item.is_dir():
                continue
            for file in sorted(item.iterdir(), key=lambda p: p.name.lower()):
                if file.name.startswith(".") or file.suffix.lower() not in YAML_SUFFIXES:
                    continue
                if not file.is_file() or not self.inside(file):
                    continue
                data = _read_bytes(file)  # read once: for the scores: check and the head
                entries = self._scorecard_entries(file, data)
                refs.extend(entries or [self._ref(item.name, file, data)])
        return refs

    def _scorecard_entries(self, file: Path, head: bytes | None = None) -> list[ScoreRef]:
        """The scores a scorecard file lists under ``scores:`` (none for a score file).

        Plexus keeps a scorecard as one file: ``name``, ``key``... and a ``scores:``
        list. Each entry is a score of its own, addressed by name and edited in place.
        """
        if head is None:
            head = _read_bytes(file)
        if head is None or len(head) > MAX_FILE_BYTES or not _SCORES_KEY.search(head):
            return []
        # The YAML parser is loaded here, in the scan, not with the module: opening the app
        # on a score needs the workspace before its first frame, and the parser does not.
        from engine.yaml_text import load_plain

        try:
            data = load_plain(read_text(file))
        except (YamlError, UsageError):
            return []
        if not isinstance(data, dict) or not isinstance(data.get("scores"), list):
            return []
        card = str(data.get("name") or file.stem)
        text_lines = head.count(b"\n")
        refs = []
        for entry in data["scores"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            refs.append(
                ScoreRef(
                    scorecard=card,
                    score=entry["name"],
                    path=file,
                    rel_path=file.relative_to(self.root).as_posix(),
                    key=_str_or_none(entry.get("key")),
                    id=_str_or_none(entry.get("id")),
                    cls=_str_or_none(entry.get("class")),
                    size=len(head),
                    lines=text_lines,
                    entry=entry["name"],
                )
            )
        return refs

    def ref_for(self, path: Path, score: str | None = None) -> ScoreRef:
        """The score a session is about: the file's, or its ``score`` entry in a scorecard file."""
        path = self.resolve_path(str(path))
        for ref in self._scorecard_entries(path):
            if ref.entry == score:
                return ref
        return self.ref_for_path(path)

    def inside(self, path: Path) -> bool:
        """True when ``path``, with every symlink followed, stays inside the workspace."""
        try:
            resolved = path.resolve(strict=False)
        except (OSError, RuntimeError):
            return False
        return resolved == self.root or resolved.is_relative_to(self.root)

    @contextlib.asynccontextmanager
    async def write_lock(self, timeout: float = LOCK_TIMEOUT) -> AsyncIterator[None]:
        """Hold the workspace's write lock: one check-and-write at a time, across processes.

        An ``fcntl.flock`` on ``<root>/.scorechat.lock`` that every scorechat process
        (apps, the CLI, workers) takes around reading, checking and replacing a score
        file and recording the edit, so that no applied edit is overwritten by another.
        The kernel releases it when a process dies.
        """
        path = self.root / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UsageError(
                f"Cannot write in the workspace {self.root}: {exc.strerror or exc}."
            ) from None
        try:
            deadline = time.monotonic() + timeout
            delay = 0.002
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise UsageError(
                            "Another scorechat has been writing to this workspace for "
                            f"{timeout:.0f} seconds; nothing was written. Try again."
                        ) from None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.05)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _ref(self, scorecard: str, file: Path, data: bytes | None = None) -> ScoreRef:
        head, size, lines = _read_head(data if data is not None else _read_bytes(file))
        return ScoreRef(
            scorecard=scorecard,
            score=head.get("name") or file.stem,
            path=file,
            rel_path=file.relative_to(self.root).as_posix(),
            key=head.get("key"),
            id=head.get("id"),
            cls=head.get("class"),
            size=size,
            lines=lines,
        )

    def scorecards(self) -> list[str]:
        return sorted({ref.scorecard for ref in self.scores()}, key=str.lower)

    # ---- resolution ------------------------------------------------------------------

    def resolve_scorecard(self, name: str) -> str:
        """A scorecard folder name from its exact name or a unique fuzzy fragment."""
        cards = self.scorecards()
        return _pick(name, cards, lambda card: [card], "scorecard")

    def resolve_score(self, name: str, scorecard: str | None = None) -> ScoreRef:
        """A score by name, key, id, file stem, workspace path or a unique fuzzy fragment."""
        if not name or not name.strip():
            raise UsageError("Name a score (its name, key, id or a fragment of its name).")
        refs = self.scores()
        if scorecard:
            card = self.resolve_scorecard(scorecard)
            refs = [ref for ref in refs if ref.scorecard == card]
        # A path to a file inside the workspace.
        if name.endswith(YAML_SUFFIXES):
            try:
                path = self.resolve_path(name)
            except SandboxError:
                path = None
            if path is not None:
                for ref in refs:
                    if ref.path == path:
                        return ref
        named = Counter((ref.scorecard, ref.score) for ref in refs)

        def label(ref: ScoreRef) -> str:
            # Two files may share a name: then the file tells them apart.
            twin = named[(ref.scorecard, ref.score)] > 1
            return f"{ref.scorecard} / {ref.score}" + (f" ({ref.rel_path})" if twin else "")

        return _pick(
            name,
            refs,
            lambda ref: [ref.score, ref.path.stem, ref.key or "", ref.id or ""],
            "score",
            label=label,
        )

    def ref_for_path(self, path: Path) -> ScoreRef:
        path = self.resolve_path(str(path))
        rel = path.relative_to(self.root)
        scorecard = rel.parts[0] if len(rel.parts) > 1 else ""
        return self._ref(scorecard, path)

    # ---- sandbox ---------------------------------------------------------------------

    def resolve_path(self, raw: str, *, must_exist: bool = False) -> Path:
        """An absolute path inside the workspace, or ``SandboxError`` with one sentence.

        Refused: empty paths, NUL bytes, backslashes, ``..`` components, absolute paths
        elsewhere, over-long paths, and symlinks whose target leaves the workspace.
        """
        if not isinstance(raw, str) or not raw.strip():
            raise SandboxError("The path is empty.")
        if "\x00" in raw:
            raise SandboxError("The path contains a NUL byte and was refused.")
        if len(raw) > MAX_PATH_CHARS:
            raise SandboxError(f"The path is longer than {MAX_PATH_CHARS} characters.")
        if "\\" in raw:
            raise SandboxError(f"The path {raw!r} contains a backslash; use / between folders.")
        candidate = Path(raw.strip()).expanduser() if raw.startswith("~") else Path(raw.strip())
        if ".." in candidate.parts:
            raise SandboxError(f"The path {raw!r} uses '..'; paths must stay inside the workspace.")
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            resolved = candidate.resolve(strict=False)
        except (OSError, RuntimeError) as exc:  # symlink loops
            raise SandboxError(f"The path {raw!r} cannot be resolved: {exc}.") from None
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise SandboxError(f"The path {raw!r} is outside the workspace {self.root}.")
        if must_exist and not resolved.exists():
            raise NotFoundError(f"The file {self.display(resolved)} does not exist.")
        return resolved

    def display(self, path: Path) -> str:
        """A path as the user and the model see it: relative to the workspace root."""
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)


def _pick(query, items, names, kind, label=None):  # type: ignore[no-untyped-def]
    """The one item whose names match ``query``: exact first, then fuzzy."""
    label = label or (lambda item: str(item))
    q = query.strip()
    exact = [item for item in items if any(n and n == q for n in names(item))]
    if not exact:
        exact = [item for item in items if any(n and n.lower() == q.lower() for n in names(item))]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise AmbiguousError(
            f"The {kind} {query!r} is ambiguous: did you mean {_or_list(label(i) for i in exact)}?"
        )
    if not normalise(q):
        # Only punctuation (``*``, ``../..``): a fragment of nothing matches nothing.
        raise NotFoundError(f"No {kind} matches {query!r}.")
    scored = []
    for item in items:
        best = max(
            (s for n in names(item) if n and (s := fuzzy_score(q, n)) is not None), default=None
        )
        if best is not None:
            scored.append((best, item))
    if not scored:
        raise NotFoundError(f"No {kind} matches {query!r}.")
    # Only the best tier competes: a substring match outranks scattered letters.
    top_tier = max(_tier(s) for s, _ in scored)
    contenders = [item for s, item in sorted(scored, key=lambda p: -p[0]) if _tier(s) == top_tier]
    if len(contenders) == 1:
        return contenders[0]
    raise AmbiguousError(
        f"The {kind} {query!r} is ambiguous: did you mean "
        f"{_or_list(label(i) for i in contenders[:5])}?"
    )


def _tier(score: int) -> int:
    return 2 if score >= 1000 else 1 if score >= 400 else 0


def _or_list(labels: Iterable[str]) -> str:
    items = list(labels)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# ---- reading and writing ----------------------------------------------------------------


def read_text(path: Path) -> str:
    """A score file's text, exactly as on disk (line endings kept), or one clear sentence."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFoundError(f"The file {path.name} does not exist.") from None
    except OSError as exc:
        raise UsageError(f"The file {path.name} cannot be read: {exc.strerror}.") from None
    if path.is_dir():
        raise UsageError(f"{path.name} is a folder, not a file.")
    if size > MAX_FILE_BYTES:
        raise UsageError(
            f"The file {path.name} is {size / 1_048_576:.1f} MB; scores over "
            f"{MAX_FILE_BYTES // 1_048_576} MB are not opened."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"The file {path.name} cannot be read: {exc.strerror}.") from None
    if b"\x00" in data:
        raise UsageError(f"The file {path.name} is binary, not a YAML text file.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"The file {path.name} is not UTF-8 text (bad byte at offset {exc.start})."
        ) from None


def _read_umask() -> int:
    # Read once, at import, on the main thread: setting the umask to read it is not
    # thread-safe, and atomic_write runs in worker threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


#: The end of ``atomic_write``'s temp files (``.<name>.<8 of mkstemp's characters>.tmp``).
_TEMP_SUFFIX = ".tmp"


def remove_stale_temp_files(path: Path) -> None:
    """Remove the temp files ``atomic_write`` left beside ``path`` when a process was
    killed mid-write (``.Greeting.yaml.k3j9x2ab.tmp``). Call it under the write lock,
    when no write of the file can be under way."""
    try:
        names = [entry.name for entry in os.scandir(path.parent)]
    except OSError:
        return
    stale = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}{re.escape(_TEMP_SUFFIX)}")
    for name in names:
        if stale.fullmatch(name):
            with contextlib.suppress(OSError):
                (path.parent / name).unlink()


def atomic_write(path: Path, text: str | bytes) -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new file, never half.

    Writes a temp file in the same folder, fsyncs it, renames it over the target and
    fsyncs the folder. The file's permission bits are kept.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    folder = path.parent
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    exists = mode is not None
    if mode is None:
        # A new file gets the usual mode (0644 under the common umask), not mkstemp's 0600.
        mode = 0o666 & ~_UMASK
    if exists and not os.access(path, os.W_OK):
        raise UsageError(f"The file {path.name} is read-only; nothing was written.")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    except FileNotFoundError:
        if folder.is_dir():  # /proc, say: there, but no new file may be made in it
            raise UsageError(f"Cannot write {path.name}: {folder} takes no new files.") from None
        raise UsageError(f"Cannot write {path.name}: the folder {folder} does not exist.") from None
    except OSError as exc:
        raise UsageError(f"Cannot write in {folder}: {exc.strerror}.") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
