"""`python -m devkit.images build [names]`: the local base and stand-in images;
`python -m devkit.images wheelhouse <service>`: wheels for an offline image build;
`python -m devkit.images service <service>`: both, then the service's image FROM the local base;
`python -m devkit.images services [names]`: every service's image (`just images`);
`python -m devkit.images compose up|down`: compose.yaml from the local images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devkit.images import compose as local
from devkit.images import docker
from devkit.images.build import Options, build_images
from devkit.images.catalog import IMAGES, UnknownImage
from devkit.images.service import (
    USERS_BASE,
    build_service_image,
    inspect_image,
    offline_by_default,
    service_tag,
    services,
)
from devkit.images.wheelhouse import WheelhouseError, make_wheelhouse


def _root() -> Path:
    """The workspace root: the nearest directory above the current one holding uv.lock."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "uv.lock").exists() and (candidate / "images").is_dir():
            return candidate
    raise SystemExit("error: run this inside the repository (no uv.lock and images/ above here)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devkit.images", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the local images (all by default)")
    build.add_argument("names", nargs="*", help=f"some of: {', '.join(IMAGES)}")
    build.add_argument(
        "--force",
        action="store_true",
        help="re-import the Debian base (so everything above it rebuilds)",
    )
    build.add_argument(
        "--refresh-rootfs", action="store_true", help="debootstrap again (new packages)"
    )
    build.add_argument("--no-cache", action="store_true", help="docker build --no-cache")
    build.add_argument("--verbose", "-v", action="store_true", help="show docker's output")
    wheels = commands.add_parser("wheelhouse", help="wheels for an offline service image build")
    wheels.add_argument("service", help="a workspace package, e.g. auth")
    wheels.add_argument("--fresh", action="store_true", help="download every wheel again")
    service = commands.add_parser(
        "service", help="a service's image, offline: portfolio-<name>:dev"
    )
    service.add_argument("service", help="a service, e.g. auth")
    service.add_argument("--verbose", "-v", action="store_true", help="show docker's output")
    every = commands.add_parser(
        "services", help="every service's image (or those named), sizes, users, healthchecks"
    )
    every.add_argument("names", nargs="*", help="some services (all by default)")
    mode = every.add_mutually_exclusive_group()
    mode.add_argument("--offline", action="store_true", help="local base and wheelhouses")
    mode.add_argument("--online", action="store_true", help="python:3.11-slim, uv and PyPI")
    every.add_argument("--verbose", "-v", action="store_true", help="show docker's output")
    run = commands.add_parser(
        "compose", help="compose.yaml from the local images: up (waits healthy), down, or any"
    )
    run.add_argument("words", nargs=argparse.REMAINDER, help="up | down | docker-compose args")
    return parser


def run_compose(root: Path, words: list[str]) -> int:
    if words == ["up"]:
        env = local.up(root)
        print(
            f"compose: every container healthy; API ports: auth {env['AUTH_PORT']}, "
            f"mail {env['MAILPIT_PORT']} (secrets in {local.local_env_file(root)})"
        )
    elif words == ["down"]:
        local.down(root)
    else:
        local.compose(root, local.local_environment(root), *words)
    return 0


def build_services(root: Path, args: argparse.Namespace) -> int:
    """`just images`: each service's image; offline unless the users' base is at hand."""
    docker.require_engine()
    names = args.names or services(root)
    offline = args.offline or (not args.online and offline_by_default())
    how = "offline: local base, wheelhouse" if offline else USERS_BASE
    print(f"building {', '.join(names)} ({how})")
    built = []
    for name in names:
        seconds = build_service_image(root, name, verbose=args.verbose, offline=offline)
        built.append(inspect_image(service_tag(name), seconds))
    print("\nservice images:")
    for image in built:
        size = docker.human_size(image.size)
        print(
            f"  {image.tag:28} {size:>9}  user {image.user:6} {image.seconds:6.1f}s  "
            f"HEALTHCHECK {image.healthcheck}"
        )
    root_users = [i.tag for i in built if i.user in ("", "root", "0")]
    if root_users:
        print(f"error: these images run as root: {', '.join(root_users)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = _root()
    try:
        if args.command == "build":
            options = Options(args.force, args.refresh_rootfs, args.no_cache, args.verbose)
            results = build_images(root, args.names, options)
            print("\nimage sizes:")
            for result in results:
                size = docker.human_size(result.size)
                print(f"  {result.spec.tag:40} {size:>9}  {result.action} {result.seconds:.1f}s")
        elif args.command == "wheelhouse":
            folder = make_wheelhouse(root, args.service, fresh=args.fresh)
            print(f"wheelhouse: {folder.relative_to(root)}")
        elif args.command == "service":
            build_service_image(root, args.service, verbose=args.verbose)
        elif args.command == "compose":
            return run_compose(root, args.words)
        else:
            return build_services(root, args)
    except (docker.DockerError, WheelhouseError, UnknownImage) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
