"""Package entry for tsjnet_plugin (tool settings live in pyproject.toml)."""

from pathlib import Path

from setuptools import find_packages, setup


def read_version() -> str:
    init = Path(__file__).parent / "tsjnet_plugin" / "__init__.py"
    for line in init.read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError(f"no __version__ in {init}")


setup(
    name="tsjnet_plugin",
    version=read_version(),
    description="TSJNet task-driven infrared-visible image fusion as a detectron2 / OpenMMLab plugin",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["tsjnet_plugin", "tsjnet_plugin.*"]),
    package_data={"tsjnet_plugin": ["weights/*.pth"]},
    install_requires=["torch>=2.1", "numpy", "natten==0.21.7", "pillow", "tqdm", "matplotlib"],
    extras_require={
        # OpenMMLab: mmcv must be the full build with compiled ops (see docs/install.md).
        "mm": [
            "mmengine==0.10.7",
            "mmcv==2.1.0",
            "mmsegmentation==1.2.2",
            "mmdet==3.3.0",
            "ftfy",
            "regex",
            "setuptools>=77.0.3,<81",
        ],
        # detectron2 has no registry release: install it from upstream git first,
        #   pip install --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git'
        "d2": ["fvcore", "pycocotools"],
        "dev": ["pytest", "pytest-timeout", "ruff", "scikit-image", "scikit-learn"],
    },
)
