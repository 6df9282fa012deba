"""Who asks for a change and how, and the rules on that: a subscriber acts on the web for
their own listings; a support agent acts for a subscriber and must say why and through
which channel (phone, mail or shop)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from directory_svc.domain.access import Principal, Role
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.history import Change
from directory_svc.domain.text import check_text

STAFF_CHANNELS = (Channel.PHONE, Channel.MAIL, Channel.SHOP)


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """One change asked by ``who`` (``reason`` and ``channel``: support only)."""

    who: Principal
    change_id: str
    at: datetime
    notice_version: str
    reason: str | None = None
    channel: Channel | None = None


def change_of(request: ChangeRequest, *, attested: bool = False) -> Change:
    """The change a request makes, or ``ValidationError`` naming what is missing."""
    check_text("change_id", request.change_id, 64, required=True)
    who, at = request.who, request.at
    if who.role is Role.CUSTOMER:
        provenance = Provenance(Actor.SUBSCRIBER, Channel.WEB, at, request.notice_version)
        return Change(request.change_id, provenance, reason=None, attested=attested)
    reason, channel = request.reason, request.channel
    if not reason or not reason.strip():
        raise ValidationError(
            "reason", "required", "a reason is required when acting for a subscriber"
        )
    if channel not in STAFF_CHANNELS:
        raise ValidationError(
            "channel", "required", "say how the request came: phone, mail or shop"
        )
    text = check_text("reason", reason, 300, required=True)
    provenance = Provenance(
        Actor.SUPPORT, channel, at, request.notice_version, agent_id=who.subject
    )
    return Change(request.change_id, provenance, reason=text, attested=attested)
