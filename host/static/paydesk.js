// paydesk's only script: card payments and "Add payment method" through Stripe.js (loaded from
// the configured Stripe.js URL; the Payment Element when a bank debit is imported). Card details go from the card element to Stripe, never to us:
// a SetupIntent saves the card for the customer, then the server confirms the payment with it;
// if the bank asks, Stripe.js takes the payer through authentication.
(function () {
  'use strict';

  async function post(url, csrf, body) {
    const response = await fetch(url, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
      body: JSON.stringify(body || {}),
    });
    let json = {};
    try { json = await response.json(); } catch (e) { json = {}; }
    return {ok: response.ok, body: json};
  }

  function failer(box, button) {
    return function (message) {
      const p = box.querySelector('.pay-error');
      p.textContent = message || 'Something went wrong; nothing was charged twice. Reload and try again.';
      p.hidden = false;
      button.disabled = false;
    };
  }

  function errorText(result) {
    return (result.body && result.body.error && result.body.error.message) || 'The request failed.';
  }

  function mountCard(box) {
    const stripe = Stripe(box.dataset.publishableKey);
    const card = stripe.elements().create('card');
    card.mount(box.querySelector('.card-element'));
    return {stripe, card};
  }

  document.querySelectorAll('.pay-new').forEach(function (box) {
    const {stripe, card} = mountCard(box);
    const button = box.querySelector('.pay-new-button');
    const fail = failer(box, button);
    button.addEventListener('click', async function () {
      button.disabled = true;
      const start = await post(box.dataset.start, box.dataset.csrf);
      if (!start.ok) return fail(errorText(start));
      const setup = await stripe.confirmCardSetup(start.body.setup_client_secret, {payment_method: {card: card}});
      if (setup.error) return fail(setup.error.message);
      const method = setup.setupIntent.payment_method;
      const done = await post(box.dataset.confirm, box.dataset.csrf, {
        intent_id: start.body.intent_id,
        payment_method: typeof method === 'string' ? method : method.id,
      });
      if (!done.ok) return fail(errorText(done));
      if (done.body.status === 'requires_action') {
        const auth = await stripe.confirmCardPayment(done.body.client_secret);
        await post('/refresh/' + encodeURIComponent(start.body.intent_id), box.dataset.csrf);
        if (auth.error) return fail(auth.error.message);
      }
      window.location.href = box.dataset.done || window.location.href;
    });
  });

  // With a bank debit imported: Stripe.js's Payment Element renders every imported type and the
  // mandate's text; the method it makes is sent to the server, which confirms the SetupIntent with
  // it and the mandate accepted by this request (its address and user agent).
  document.querySelectorAll('.add-method.payment-element').forEach(function (box) {
    const stripe = Stripe(box.dataset.publishableKey);
    const elements = stripe.elements({
      mode: 'setup',
      currency: box.dataset.currency,
      paymentMethodTypes: box.dataset.methodTypes.split(','),
      paymentMethodCreation: 'manual',
    });
    elements.create('payment').mount(box.querySelector('.method-element'));
    const button = box.querySelector('.add-method-button');
    const fail = failer(box, button);
    button.addEventListener('click', async function () {
      button.disabled = true;
      const submitted = await elements.submit();
      if (submitted.error) return fail(submitted.error.message);
      const start = await post(box.dataset.start, box.dataset.csrf);
      if (!start.ok) return fail(errorText(start));
      const made = await stripe.createPaymentMethod({elements: elements});
      if (made.error) return fail(made.error.message);
      const done = await post(box.dataset.confirm, box.dataset.csrf, {
        setup_intent_id: start.body.setup_intent_id,
        payment_method: made.paymentMethod.id,
      });
      if (!done.ok) return fail(errorText(done));
      if (done.body.status === 'requires_action') {
        const next = await stripe.handleNextAction({clientSecret: done.body.client_secret});
        if (next.error) return fail(next.error.message);
        const saved = await post(box.dataset.complete, box.dataset.csrf, {setup_intent_id: start.body.setup_intent_id});
        if (!saved.ok) return fail(errorText(saved));
      } else if (done.body.status === 'processing') {
        const note = box.querySelector('.pay-note');
        note.textContent = 'Your bank is verifying the account. It is not your automatic payment method yet; once your bank has verified it, choose it again here.';
        note.hidden = false;
        return;
      }
      window.location.href = box.dataset.done;
    });
  });

  document.querySelectorAll('.add-method.card').forEach(function (box) {
    const {stripe, card} = mountCard(box);
    const button = box.querySelector('.add-method-button');
    const fail = failer(box, button);
    button.addEventListener('click', async function () {
      button.disabled = true;
      const start = await post(box.dataset.start, box.dataset.csrf);
      if (!start.ok) return fail(errorText(start));
      const setup = await stripe.confirmCardSetup(start.body.client_secret, {payment_method: {card: card}});
      if (setup.error) return fail(setup.error.message);
      const done = await post(box.dataset.complete, box.dataset.csrf, {setup_intent_id: start.body.setup_intent_id});
      if (!done.ok) return fail(errorText(done));
      window.location.href = box.dataset.done;
    });
  });

  document.querySelectorAll('.complete-action').forEach(function (button) {
    button.addEventListener('click', async function () {
      button.disabled = true;
      const stripe = Stripe(button.dataset.publishableKey);
      const secret = await post('/portal/payments/' + encodeURIComponent(button.dataset.intent) + '/authenticate', button.dataset.csrf);
      if (!secret.ok) { window.location.reload(); return; }
      await stripe.confirmCardPayment(secret.body.client_secret);
      await post('/refresh/' + encodeURIComponent(button.dataset.intent), button.dataset.csrf);
      window.location.reload();
    });
  });
})();
