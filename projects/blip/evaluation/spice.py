"""SPICE scores, when its Stanford CoreNLP jars are installed.

pycocoevalcap's ``Spice`` downloads CoreNLP on first use and keeps its input,
output and cache files inside site-packages; offline or on a read-only install
it fails. This runs the same jar with the same options, with its files in a
temporary folder, and only when the jars are already there.
"""

import json
import math
import subprocess
import tempfile
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .java_tools import java_not_found, pycocoevalcap_dir

CORENLP_JARS = ('stanford-corenlp-3.6.0.jar', 'stanford-corenlp-3.6.0-models.jar')


def spice_jar() -> Path:
    """Return the SPICE 1.0 jar shipped with pycocoevalcap."""
    return pycocoevalcap_dir() / 'spice' / 'spice-1.0.jar'


def missing_spice_jars(jar: Path | None = None) -> list[Path]:
    """List the jars SPICE needs that are not installed (empty when it can run).

    pycocoevalcap ships ``spice-1.0.jar`` but not the Stanford CoreNLP 3.6.0
    jars, which its ``get_stanford_models`` downloads into ``spice/lib/``.
    """
    jar = Path(jar) if jar is not None else spice_jar()
    needed = [jar] + [jar.parent / 'lib' / name for name in CORENLP_JARS]
    return [path for path in needed if not path.is_file()]


class SpiceScorer:
    """Score tokenized captions with SPICE (the ``All`` F-score).

    Args:
        jar: The SPICE jar; pycocoevalcap's by default.
        java: The Java executable.
        max_memory: The JVM heap limit, as pycocoevalcap sets it.
        cache_dir: A folder where SPICE caches parses between runs; no cache
            by default.
    """

    def __init__(
        self,
        jar: Path | None = None,
        java: str = 'java',
        max_memory: str = '8G',
        cache_dir: str | None = None,
    ) -> None:
        self.jar = Path(jar) if jar is not None else spice_jar()
        self.java = java
        self.max_memory = max_memory
        self.cache_dir = cache_dir

    def compute_score(
        self,
        gts: Mapping[Hashable, Sequence[str]],
        res: Mapping[Hashable, Sequence[str]],
    ) -> tuple[float, list[float]]:
        """Score one prediction per image against its references.

        Returns:
            The mean SPICE F-score over images (NaN when SPICE could not score
            an image, as in pycocoevalcap) and the score of each image, in the
            order of ``gts``.
        """
        if gts.keys() != res.keys():
            raise ValueError('references and predictions cover different images')
        records = [
            dict(image_id=image_id, test=res[image_id][0], refs=list(gts[image_id])) for image_id in gts
        ]
        with tempfile.TemporaryDirectory(prefix='blip_spice_') as folder:
            input_file = Path(folder) / 'input.json'
            output_file = Path(folder) / 'output.json'
            input_file.write_text(json.dumps(records))
            command = [self.java, '-jar', f'-Xmx{self.max_memory}', str(self.jar)]
            command += [str(input_file), '-out', str(output_file), '-subset']
            command += ['-silent']
            if self.cache_dir is not None:
                command += ['-cache', str(self.cache_dir)]
            try:
                done = subprocess.run(command, cwd=self.jar.parent, capture_output=True, check=False)
            except FileNotFoundError as error:
                raise java_not_found(self.java) from error
            if done.returncode != 0:
                raise RuntimeError(
                    f'SPICE failed with exit code {done.returncode}: '
                    + done.stderr.decode(errors='replace').strip()
                )
            output = json.loads(output_file.read_text())
        by_image = {item['image_id']: _as_float(item['scores']['All']['f']) for item in output}
        scores = [by_image[image_id] for image_id in gts]
        return float(np.mean(scores)), scores


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
