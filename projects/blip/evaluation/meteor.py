"""METEOR 1.5 scores from one long-lived Java process, as pycocoevalcap runs it."""

import subprocess
import tempfile
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

from .java_tools import java_not_found, pycocoevalcap_dir


def meteor_jar() -> Path:
    """Return the METEOR 1.5 jar shipped with pycocoevalcap."""
    return pycocoevalcap_dir() / 'meteor' / 'meteor-1.5.jar'


class MeteorScorer:
    """Score tokenized captions with METEOR 1.5 (English, normalised).

    Starts the METEOR JVM (a few seconds: it loads the paraphrase table) when
    created; use it as a context manager so the process ends afterwards. The
    commands sent are pycocoevalcap's, so the scores are the same.

    Args:
        jar: The METEOR jar; pycocoevalcap's by default. Its folder must hold
            METEOR's ``data/`` resources (it is only read).
        java: The Java executable.
        max_memory: The JVM heap limit, as pycocoevalcap sets it.
    """

    def __init__(self, jar: Path | None = None, java: str = 'java', max_memory: str = '2G') -> None:
        jar = Path(jar) if jar is not None else meteor_jar()
        command = [java, '-jar', f'-Xmx{max_memory}', jar.name, '-', '-', '-stdio']
        command += ['-l', 'en', '-norm']
        # stderr goes to a file: an unread pipe could fill up and block METEOR.
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                command,
                cwd=jar.parent,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
        except FileNotFoundError as error:
            self._stderr.close()
            raise java_not_found(java) from error

    def compute_score(
        self,
        gts: Mapping[Hashable, Sequence[str]],
        res: Mapping[Hashable, Sequence[str]],
    ) -> tuple[float, list[float]]:
        """Score one prediction per image against its references.

        Args:
            gts: Tokenized reference captions per image.
            res: One tokenized predicted caption per image, same keys as
                ``gts``.

        Returns:
            The corpus METEOR score and the score of each image (in the order
            of ``gts``).
        """
        if gts.keys() != res.keys():
            raise ValueError('references and predictions cover different images')
        stats = []
        for image_id in gts:
            if len(res[image_id]) != 1:
                raise ValueError(f'image {image_id!r} needs exactly one prediction')
            hypothesis = res[image_id][0].replace('|||', '').replace('  ', ' ')
            self._send(' ||| '.join(['SCORE', *gts[image_id], hypothesis]))
            stats.append(self._receive())
        self._send(' ||| '.join(['EVAL', *stats]))
        scores = [float(self._receive()) for _ in stats]
        return float(self._receive()), scores

    def _send(self, line: str) -> None:
        try:
            self._process.stdin.write(f'{line}\n'.encode())
            self._process.stdin.flush()
        except BrokenPipeError as error:
            raise RuntimeError(f'METEOR stopped: {self._error_output()}') from error

    def _receive(self) -> str:
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f'METEOR stopped: {self._error_output()}')
        return line.decode().strip()

    def _error_output(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors='replace').strip() or 'no output'

    def close(self) -> None:
        """End the METEOR process."""
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.kill()
        self._process.wait()
        self._process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> 'MeteorScorer':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
