"""Notify's declaration: what servicekit runs for `python -m notify api|worker|all|migrate`."""

from __future__ import annotations

from events.contracts import (
    UserLoggedInV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserSignupAttemptedV1,
    UserVerificationRequestedV1,
)
from notify import cli
from notify.adapters.dsn_listener import listener
from notify.adapters.smtp_listener import SmtpListener
from notify.api import admin, router
from notify.config import Settings
from notify.container import Container, build
from notify.handlers import bounces, failures, outbound, sending
from servicekit.service import Listener, Service, Subscribe


def dsn_listener(container: Container) -> SmtpListener | None:
    """The SMTP listener for delivery reports mailed to return paths (off without a port)."""
    if container.settings.bounce.port is None:
        return None
    return listener(container.settings, container.bound(bounces.handle_delivery_report))


def _email(handler: str, model: type, composer: outbound.Composer) -> Subscribe:
    """One queue per email; each gives up with email.failed.v1 before it is parked."""
    return Subscribe(
        handler,
        (model,),
        sending.send_email,
        on_dead_letter=failures.record_exhausted,
        args={"composer": composer},
    )


SERVICE: Service[Container] = Service(
    name="notify",
    description="Email delivery, failures, bounces and the suppression list.",
    settings=Settings,
    build=build,
    routers=[router],
    subscriptions=[
        _email("welcome_email", UserRegisteredV1, outbound.welcome),
        _email("verification_email", UserVerificationRequestedV1, outbound.verification),
        _email("onboarding_email", UserLoggedInV1, outbound.onboarding),
        _email("signup_attempt_email", UserSignupAttemptedV1, outbound.signup_attempt),
        _email("password_reset_email", UserPasswordResetRequestedV1, outbound.password_reset),
    ],
    admin_routers=[admin],
    commands={"suppressions": cli.suppressions},
    listeners=[Listener("bounces", dsn_listener)],
    needs=("smtp",),
    # The DSN listener receives bounces from the relay: reachable from outside the container.
    image_env={"BOUNCE__HOST": "0.0.0.0"},  # noqa: S104 - on when NOTIFY_BOUNCE__PORT is set
    image_ports=(2525,),
)
