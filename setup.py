"""Build hook: the model zoo goes into the package (the metadata is in setup.cfg).

``metafile.yml``, ``configs/blip/`` and ``checkpoints/`` stay at the repository
root, where users and the docs find them; a wheel copies them into
``blip/.mim/`` with the same layout (as mmpretrain ships its configs), so an
installed package finds them without a clone. An editable install copies
nothing: ``blip.apis.model_zoo`` then reads them at the repository root.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: What the package needs from the repository root, copied to ``blip/.mim/``.
MODEL_ZOO = ('metafile.yml', 'configs/blip', 'checkpoints')


def model_zoo_files() -> list[Path]:
    """The files of ``MODEL_ZOO``, relative to the repository root."""
    files = []
    for name in MODEL_ZOO:
        path = ROOT / name
        if not path.exists():
            raise FileNotFoundError(f'{path}: the package needs it (listed in MANIFEST.in for an sdist)')
        found = [path] if path.is_file() else sorted(path.rglob('*'))
        files += [
            p.relative_to(ROOT)
            for p in found
            if p.is_file() and '__pycache__' not in p.parts and p.suffix != '.pyc'
        ]
    return files


class BuildPyWithModelZoo(build_py):
    """``build_py`` that also copies the model zoo into ``blip/.mim/`` of the build."""

    def _model_zoo_targets(self) -> list[tuple[Path, Path]]:
        target = Path(self.build_lib) / 'blip' / '.mim'
        return [(target / name, ROOT / name) for name in model_zoo_files()]

    def run(self):
        super().run()
        if self.editable_mode:
            return
        for target, source in self._model_zoo_targets():
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return outputs + [str(target) for target, _ in self._model_zoo_targets()]


setup(cmdclass={'build_py': BuildPyWithModelZoo})
