"""Coordination between offices: the kecamatan sends recorded cases to the regency registry
(Disdukcapil) and the regency answers, through the durable outbox.

Built-in plugin; registered exactly as a regency's own plugin would be.
"""
from engine import hookimpl

from .operators import reply_to_origin, send_to_regency
from .transport import deliver


@hookimpl
def service_operators():
    return {
        "coordination.send_to_regency": send_to_regency,
        "coordination.reply_to_origin": reply_to_origin,
    }


@hookimpl
def deliver_outbox_message(runtime, message):
    return deliver(runtime, message)
