"""Bus settings, embedded in each service's own settings class (env `<NAME>_BUS__...`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class BusSettings(BaseModel):
    """How a service reaches the broker and runs its handlers."""

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    exchange: str = "events"
    prefetch: int = Field(default=32, ge=1, description="Unacked deliveries per handler queue.")
    publish_timeout_s: float = Field(default=10.0, gt=0)
    delivery_limit: int = Field(
        default=20, ge=1, description="Quorum poison backstop: redeliveries before dead-lettering."
    )
    retry_time_scale: float = Field(
        default=1.0, gt=0, description="Multiplies every retry delay; tests shrink it."
    )
    reconnect_interval_s: float = Field(default=1.0, gt=0)
    drain_timeout_s: float = Field(default=30.0, gt=0, description="Graceful stop: in-flight wait.")
    dlq_poll_interval_s: float = Field(
        default=15.0, gt=0, description="How often a worker reports its DLQs' depth as a metric."
    )
