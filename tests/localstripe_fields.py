# Stripe fields localstripe 1.15.10 lacks, added to its PaymentIntent so paydesk sees what Stripe
# sends. Run with `resources` (localstripe.resources) in scope, before the server starts; every
# place that starts localstripe for paydesk (the test harness, the conformance runner, the demo)
# runs it.
#
# * `amount_received`: what arrived — the latest charge's amount once the intent succeeded, else 0.
# * `amount` set by `POST /v1/payment_intents/{id}` is an integer, as at Stripe (localstripe keeps
#   the form's string).


def _amount_received(self):
    charge = self.latest_charge
    return charge.amount if charge is not None and self.status == "succeeded" else 0


resources.PaymentIntent.amount_received = property(_amount_received)
_localstripe_update = resources.PaymentIntent._update


def _update(self, **data):
    if "amount" in data:
        data["amount"] = resources.try_convert_to_int(data["amount"])
    _localstripe_update(self, **data)


resources.PaymentIntent._update = _update
