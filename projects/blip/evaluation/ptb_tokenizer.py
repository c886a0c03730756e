"""Stanford PTB tokenization of captions, as pycocoevalcap does it.

pycocoevalcap's ``PTBTokenizer`` writes its input file next to its jar, inside
site-packages, and fails on a read-only install. This runs the same jar with
the same options on a file in a temporary folder of our own, and removes the
same punctuation tokens, so the tokens are identical.
"""

import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .java_tools import java_not_found, pycocoevalcap_dir

# Tokens pycocoevalcap drops after tokenization.
PUNCTUATION_TOKENS = frozenset(
    [
        "''",
        "'",
        '``',
        '`',
        '-LRB-',
        '-RRB-',
        '-LCB-',
        '-RCB-',
        '.',
        '?',
        '!',
        ',',
        ':',
        '-',
        '--',
        '...',
        ';',
    ]
)
# Characters Java reads as line ends; a caption must stay on one line so that
# output lines match input captions (pycocoevalcap only replaces '\n').
_LINE_BREAKS = re.compile('[\r\n\v\f\x85\u2028\u2029]')


def corenlp_jar() -> Path:
    """Return the Stanford CoreNLP jar shipped with pycocoevalcap."""
    return pycocoevalcap_dir() / 'tokenizer' / 'stanford-corenlp-3.4.1.jar'


def tokenize(captions: Sequence[str], jar: Path | None = None, java: str = 'java') -> list[str]:
    """Lower-case and PTB-tokenize captions and drop punctuation tokens.

    One Java process tokenizes all captions.

    Args:
        captions: The captions, in any order.
        jar: The Stanford CoreNLP jar; pycocoevalcap's by default.
        java: The Java executable.

    Returns:
        One string of space-separated tokens per caption, in input order.

    Raises:
        RuntimeError: Java is missing or the tokenizer failed.
    """
    if not captions:
        return []
    jar = Path(jar) if jar is not None else corenlp_jar()
    text = '\n'.join(_LINE_BREAKS.sub(' ', caption) for caption in captions)
    with tempfile.TemporaryDirectory(prefix='blip_ptb_') as folder:
        input_file = Path(folder) / 'captions.txt'
        input_file.write_bytes(text.encode())
        command = [java, '-cp', str(jar), 'edu.stanford.nlp.process.PTBTokenizer']
        command += ['-preserveLines', '-lowerCase', str(input_file)]
        try:
            done = subprocess.run(command, capture_output=True, check=False)
        except FileNotFoundError as error:
            raise java_not_found(java) from error
    if done.returncode != 0:
        raise RuntimeError(
            f'PTB tokenizer ({jar}) failed with exit code {done.returncode}: '
            + done.stderr.decode(errors='replace').strip()
        )
    lines = done.stdout.decode(errors='replace').split('\n')
    if len(lines) < len(captions) or any(lines[len(captions) :]):
        raise RuntimeError(f'PTB tokenizer returned {len(lines)} lines for {len(captions)} captions')
    return [
        ' '.join(t for t in line.rstrip().split(' ') if t not in PUNCTUATION_TOKENS)
        for line in lines[: len(captions)]
    ]
