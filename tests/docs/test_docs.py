"""The code blocks of the documentation run, so the guides cannot drift from the code.

Each fenced ``python``, ``bash`` or ``shell`` block of a page under ``docs/``
carries a marker, an HTML comment on the line before it (invisible on the
rendered page):

* ``<!-- docs-test: run -->``: run it. Python blocks run in one namespace per
  page, as a user pasting them into one session; shell blocks run command by
  command. ``python tools/<tool>.py ...`` runs the tool script with those
  arguments in this process (``runpy``), which spares ~10 s of imports per
  command; any other command runs in ``bash``.
* ``<!-- docs-test: skip: REASON -->``: not run here (a download, a GPU, a
  dataset that is not here); the reason is required.
* ``<!-- docs-test: file PATH -->``: write the block's content to ``PATH`` (a
  config or annotation file the page then uses).
* ``<!-- docs-test: output -->`` on a ``text`` block: each of its lines is
  printed by the block run just before (a line ``...`` stands for any output).

A page's blocks run in order, in a fresh folder that looks like a clone:
``configs/`` copied; ``tools/``, ``projects/``, ``checkpoints/``, ``demo/``
and ``metafile.yml`` linked.
"""

import contextlib
import io
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / 'docs'
#: Generated (model zoo) and built pages hold no runnable blocks of their own.
EXCLUDED = ('_build', 'model_zoo')
CODE_LANGUAGES = {'python', 'bash', 'shell', 'sh'}
MARKER = re.compile(r'^\s*<!--\s*docs-test:\s*(run|skip|file|output)\b:?\s*(.*?)\s*-->\s*$')
#: What a clone holds besides configs/ (copied, since pages write configs of their own).
LINKED = ('tools', 'projects', 'checkpoints', 'demo', 'metafile.yml')
FENCE = re.compile(r'^(\s*)(`{3,}|~{3,})\s*(.*)$')


@dataclass
class Block:
    page: str
    line: int
    language: str
    action: str | None  # 'run', 'skip', 'file', 'output' or None (unmarked)
    argument: str  # the skip reason or the file path
    code: str
    preceding: str  # the lines before the block, for what a reader sees about it

    def __str__(self) -> str:
        return f'{self.page}:{self.line}'


def guide_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob('*.md') if not set(p.relative_to(DOCS).parts) & set(EXCLUDED))


def read_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page with their markers (directives are not code)."""
    lines = path.read_text(encoding='utf-8').splitlines()
    page = str(path.relative_to(REPO))
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, fence, info = match.groups()
        end = index + 1
        while end < len(lines) and not re.match(rf'^\s*{fence[0]}{{{len(fence)},}}\s*$', lines[end]):
            end += 1
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[index + 1 : end]
        ]
        language = info.split()[0].lower() if info and not info.startswith('{') else ''
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), '')
        marker = MARKER.match(previous)
        blocks.append(
            Block(
                page=page,
                line=index + 1,
                language=language,
                action=marker.group(1) if marker else None,
                argument=marker.group(2) if marker else '',
                code='\n'.join(body) + '\n',
                preceding='\n'.join(lines[max(index - 6, 0) : index]),
            )
        )
        index = end + 1
    return blocks


def shell_commands(code: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments and blank lines dropped."""
    commands, current = [], ''
    for line in code.splitlines():
        current += line.rstrip()
        if current.endswith('\\'):
            current = current[:-1] + ' '
            continue
        if current.strip() and not current.lstrip().startswith('#'):
            commands.append(current.strip())
        current = ''
    return commands


def make_workspace(root: Path) -> Path:
    """A folder that looks like a clone of the repository."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / 'configs', root / 'configs')
    for name in LINKED:
        if (REPO / name).exists():
            (root / name).symlink_to(REPO / name, target_is_directory=(REPO / name).is_dir())
    return root


@contextlib.contextmanager
def captured_stdout():
    """Collect what is printed (and still show it in pytest's report)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer
    print(buffer.getvalue(), end='')


def run_tool(argv: list[str]) -> None:
    """``python tools/x.py ARGS``, in this process."""
    saved = sys.argv
    sys.argv = list(argv)
    try:
        runpy.run_path(argv[0], run_name='__main__')
    except SystemExit as stop:
        if stop.code not in (None, 0):
            raise AssertionError(f'{" ".join(argv)} exited with {stop.code}') from stop
    finally:
        sys.argv = saved


def run_command(command: str, workspace: Path) -> str:
    """Run one shell command of a page; returns what it printed."""
    words = shlex.split(command, comments=True)
    if len(words) >= 2 and words[0] == 'python' and re.fullmatch(r'tools/\w+\.py', words[1]):
        with captured_stdout() as printed:
            run_tool(words[1:])
        return printed.getvalue()
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO / 'projects'),
        PATH=f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}',
    )
    result = subprocess.run(
        command, shell=True, executable='/bin/bash', cwd=workspace, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f'{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    print(result.stdout + result.stderr, end='')
    return result.stdout + result.stderr


PAGES = [str(p.relative_to(DOCS)) for p in guide_pages()]
RUNNABLE_PAGES = [page for page in PAGES if any(b.action == 'run' for b in read_blocks(DOCS / page))]


def test_there_are_guides_with_runnable_blocks():
    blocks = [b for p in guide_pages() for b in read_blocks(p)]
    assert len(PAGES) >= 8 and len(RUNNABLE_PAGES) >= 7
    assert sum(b.action == 'run' for b in blocks) >= 10


@pytest.mark.parametrize('page', PAGES)
def test_every_code_block_is_marked(page):
    blocks = read_blocks(DOCS / page)
    unmarked = [str(b) for b in blocks if b.language in CODE_LANGUAGES and b.action is None]
    assert not unmarked, (
        f'code blocks without a <!-- docs-test: run | skip: REASON | file PATH --> marker: {unmarked}'
    )
    for block in blocks:
        if block.action in ('skip', 'file'):
            assert block.argument, f'{block}: a {block.action} marker needs a reason or a path'
        if block.action == 'file':
            # The marker is invisible: the text must tell the reader where the file goes.
            assert f'`{block.argument}`' in block.preceding, f'{block}: say where the file goes'
        if block.action == 'run':
            assert block.language in CODE_LANGUAGES, f'{block}: cannot run a {block.language!r} block'
        if block.action == 'output':
            assert block.language == 'text', f'{block}: expected output goes in a text block'
            previous = blocks[blocks.index(block) - 1] if blocks.index(block) else None
            assert previous is not None and previous.action == 'run', f'{block}: no run block before it'


def test_guides_name_existing_configs_tools_models_and_weights():
    """What the skipped blocks and the prose name exists too: configs, tools, model names, weights URLs."""
    import yaml

    models = yaml.safe_load((REPO / 'metafile.yml').read_text(encoding='utf-8'))['Models']
    names = {model['Name'] for model in models}
    weights = {model.get('Weights') for model in models}
    problems = []
    for path in guide_pages():
        text = path.read_text(encoding='utf-8')
        page = path.relative_to(REPO)
        for file in set(re.findall(r'\b((?:configs/blip|tools)/[\w./-]+\.(?:py|sh))\b', text)):
            if not (REPO / file).is_file():
                problems.append(f'{page}: {file} does not exist')
        # Model names: not a part of a URL or of a file name.
        for name in set(re.findall(r'(?<![/\w.-])(blip-(?:base|tiny)_[\w-]+)(?![\w.-])', text)) - names:
            problems.append(f'{page}: model {name} is not in metafile.yml')
        for config in set(re.findall(r'(?<![/\w.-])(blip-[\w-]+\.py)\b', text)):
            if not any((REPO / 'configs/blip').glob(config)):
                problems.append(f'{page}: config {config} is not in configs/blip/')
        for url in set(re.findall(r'https://download\.openmmlab\.com/\S+?\.pth', text)) - weights:
            problems.append(f'{page}: {url} is not the Weights of any metafile.yml entry')
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('page', RUNNABLE_PAGES)
def test_page_runs(page, tmp_path, monkeypatch):
    blocks = [b for b in read_blocks(DOCS / page) if b.action in ('run', 'file', 'output')]
    workspace = make_workspace(tmp_path / 'clone')
    monkeypatch.chdir(workspace)
    monkeypatch.syspath_prepend(str(REPO / 'tools'))
    namespace = {'__name__': '__main__'}
    printed = ''
    for block in blocks:
        start = time.perf_counter()
        if block.action == 'file':
            target = workspace / block.argument
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding='utf-8')
        elif block.action == 'output':
            expected = [line.strip() for line in block.code.splitlines() if line.strip() not in ('', '...')]
            missing = [line for line in expected if line not in printed]
            assert not missing, f'{block}: not printed: {missing}\nprinted:\n{printed}'
        elif block.language == 'python':
            with captured_stdout() as output:
                exec(compile(block.code, str(block), 'exec'), namespace)
            printed = output.getvalue()
        else:
            printed = ''
            for command in shell_commands(block.code):
                began = time.perf_counter()
                printed += run_command(command, workspace)
                print(f'  {command[:80]} {time.perf_counter() - began:.1f} s')
        print(f'{block} ({block.action}) {time.perf_counter() - start:.1f} s')
