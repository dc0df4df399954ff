"use strict";
// Numbers shared with other apps: who controls a conversation's WhatsApp
// thread (Meta's AI agent, a bot platform, this inbox), taking it over and
// handing it back; who wrote messages sent from another app.

// An app by the role or name WhatsApp gives it, in the agent's words.
function appName(app) {
  switch (app) {
    case "ai_agent":
      return t("thread.ai-agent");
    case "whatsapp_business_app":
      return t("thread.business-app");
    case "released":
      return t("thread.routing");
    case "another_app":
    case undefined:
    case null:
      return t("thread.another-app");
    default:
      return app;
  }
}

// The thread's controller, above the messages: another app handles the
// customer (take over), or the inbox has it from another app (hand back).
function threadBanner(c) {
  const th = c.thread;
  if (!th) return null;
  const go = (body) => act(c.id, "thread", { version: drawnVersion(c.id), ...body });
  if (th.owner) {
    return el(
      "div",
      { class: "thread-banner elsewhere", role: "status", "data-testid": "thread-banner" },
      el("span", {}, t("thread.elsewhere", { app: appName(th.owner) })),
      th.owner === "released"
        ? null
        : el("button", { onclick: () => go({ action: "take" }), "data-testid": "take-thread" }, t("thread.take")),
    );
  }
  if (!th.previous) return null;
  // (an app the inbox could not name has no role to hand back to)
  const named = th.previous !== "another_app" && th.previous !== "released";
  return el(
    "div",
    { class: "thread-banner ours", role: "status", "data-testid": "thread-banner" },
    el("span", {}, t("thread.ours", { app: appName(th.previous) })),
    th.metadata ? el("q", { class: "thread-summary", "data-testid": "thread-summary" }, th.metadata) : null,
    named
      ? el(
          "button",
          { onclick: () => go({ action: "pass", target_role: th.previous }), "data-testid": "hand-back" },
          t("thread.hand-back", { app: appName(th.previous) }),
        )
      : null,
  );
}

// A conversation imported from the WhatsApp Business app's chat history.
function importedBanner(c) {
  if (!c.imported) return null;
  return el("div", { class: "thread-banner elsewhere", role: "status", "data-testid": "imported-banner" }, t("conv.imported"));
}

// Who wrote an outbound message from another app, in words.
function appAuthor(m) {
  return t("msg.from-app", { app: appName(m.author.id) });
}

// A thread change or a refused call, for the timeline (null: not one).
function threadHistory(k) {
  switch (k.type) {
    case "thread_control_changed": {
      const owner = appName(k.owner);
      const previous = appName(k.previous);
      if (k.how === "passed" && !k.owner) return t("history.thread-passed-in", { app: previous });
      if (k.how === "passed") return t("history.thread-passed-out", { app: owner });
      if (k.how === "taken" && !k.owner) return t("history.thread-taken-in", { app: previous });
      if (k.how === "taken") return t("history.thread-taken-out", { app: owner });
      if (k.how === "released") return t("history.thread-released");
      if (k.how === "seen_live") return t("history.thread-back", { app: previous });
      return t("history.thread-seen", { app: owner });
    }
    case "thread_control_failed":
      return t("history.thread-failed", { reason: k.reason });
    case "history_imported":
      return t("history.imported", { n: k.messages });
    default:
      return null;
  }
}
