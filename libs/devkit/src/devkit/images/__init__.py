"""Container images built on this machine without a registry: a Debian base from debootstrap,
a Python base, stand-ins for the infrastructure, and wheelhouses for offline service builds.

Run `python -m devkit.images --help`; the Dockerfiles live in the repository's images/ folder.
"""

from devkit.images.catalog import IMAGES, ImageSpec
from devkit.images.docker import DockerError, EngineMissing

__all__ = ["IMAGES", "DockerError", "EngineMissing", "ImageSpec"]
