// Reply leases: while an agent writes a reply, they hold the conversation's
// reply lease (PUT /api/conversations/{id}/lease: renewed while they type,
// given up when the reply is sent or emptied, when they switch to a note
// or to another conversation; it lapses by itself otherwise), so no one
// else's reply goes out meanwhile. The others see "Ben is replying" and
// their Send waits, saying why, until Ben is done.
"use strict";

// Others' leases, by conversation: { holder, until } (until in ms).
const leases = {};
// This agent's lease: { id, at } (when it was last taken or renewed).
let myLease = null;
// Renewed at most this often while typing (the server's lease lasts 60 s).
const LEASE_RENEW_MS = 20000;

// The lease someone else holds on conversation `id` now, if any.
function othersLease(id) {
  const l = leases[id];
  return l && l.holder !== state.me.id && l.until > Date.now() ? l : null;
}

// Takes or renews the lease on `id` (a no-op when renewed lately); when
// someone else holds it, the composer says so.
async function holdLease(id) {
  if (myLease && myLease.id === id && Date.now() - myLease.at < LEASE_RENEW_MS) return;
  if (myLease && myLease.id !== id) dropLease(myLease.id);
  myLease = { id, at: Date.now() };
  try {
    await api("PUT", `/api/conversations/${id}/lease`);
  } catch (err) {
    if (myLease && myLease.id === id) myLease = null;
    if (err.code === "lease_held" && err.details) {
      leaseChanged(id, err.details.holder, Date.parse(err.details.until) || Date.now() + 60000);
    }
  }
}

// Gives up this agent's lease on `id`, if they hold it.
function dropLease(id) {
  if (!myLease || myLease.id !== id) return;
  myLease = null;
  api("DELETE", `/api/conversations/${id}/lease`).catch(() => {});
}

// Someone's lease on `id` began (`holder` until `until`) or ended
// (`holder` null); the composer on screen follows.
function leaseChanged(id, holder, until) {
  if (holder && holder !== state.me.id) leases[id] = { holder, until };
  else delete leases[id];
  const composer = document.querySelector(".composer");
  if (composer && state.selected === id && composer.refresh) composer.refresh();
}

// The live events of leases (from live.js).
function leaseEvent(name, e) {
  const k = e.kind || {};
  if (name === "reply_lease") leaseChanged(e.conversation, k.agent, Date.parse(k.until));
  else if (leases[e.conversation] && leases[e.conversation].holder === k.agent) leaseChanged(e.conversation, null);
}

// A lease that lapsed without a word (the holder closed the page) stops
// holding the composer back.
setInterval(() => {
  for (const [id, l] of Object.entries(leases)) if (l.until <= Date.now()) leaseChanged(id, null);
}, 5000);
