"""Every URL of the service, in one table."""

from __future__ import annotations

from aiohttp import web

from bot.web import (
    audit_api,
    auth,
    channel_hooks,
    chat,
    escalations_api,
    health,
    incidents_api,
    metrics_api,
    model_api,
    operations_api,
    pages,
    rasa_hooks,
    responses_api,
    sign_in,
    status,
    surge_api,
    users_api,
)


def setup_routes(app: web.Application) -> None:
    """Register the routes on ``app``.

    Staff APIs check the session or token and the role in their handlers
    (``bot.web.auth.requires``), staff pages the session and role (``pages``); the
    customer-facing routes, webhooks, sign-in and static assets are open on purpose.
    """
    app.add_routes(
        [
            web.get("/healthz", health.healthz, name="healthz"),
            web.get("/metrics", metrics_api.get_metrics, name="metrics"),
            web.post("/webhooks/actions", rasa_hooks.actions, name="rasa-actions"),
            web.post("/webhooks/nlg", rasa_hooks.generate, name="rasa-nlg"),
            web.post("/webhooks/telegram", channel_hooks.telegram, name="telegram-webhook"),
            web.post("/api/chat", chat.post_chat, name="chat-post"),
            web.get("/api/chat/updates", chat.get_updates, name="chat-updates"),
            web.get("/chat", chat.page, name="chat-page"),
            web.get("/", pages.index, name="index"),
            # the public status page, its permalinks and machine-readable forms
            web.get("/status", status.status, name="status"),
            web.get("/status/area/{code}", status.area, name="status-area"),
            web.get("/status/feed.atom", status.feed, name="status-feed"),
            web.get("/api/status", status.api_status, name="status-api"),
            web.get(
                r"/static/{name:status\.css|status-icon\.svg}", status.asset, name="status-asset"
            ),
            web.get("/static/{name}", pages.asset, name="static"),
            # staff: signing in once per browser, accounts, API tokens, the audit trail
            web.get("/login", sign_in.login_page, name="login-page"),
            web.post("/login", sign_in.login, name="login"),
            web.post("/logout", sign_in.logout, name="logout"),
            web.get("/password", sign_in.password_page, name="password-page"),
            web.post("/password", sign_in.change, name="password"),
            web.get("/api/me", auth.me, name="me"),
            web.get("/api/users", users_api.list_users, name="users"),
            web.post("/api/users", users_api.add_user, name="user-add"),
            web.patch("/api/users/{name}", users_api.change_user, name="user-change"),
            web.post("/api/users/{name}/password", users_api.reset_password, name="user-password"),
            web.get("/api/tokens", users_api.list_tokens, name="tokens"),
            web.post("/api/tokens", users_api.issue_token, name="token-issue"),
            web.delete("/api/tokens/{token_id}", users_api.revoke_token, name="token-revoke"),
            web.get("/api/audit", audit_api.list_audit, name="audit"),
            web.get("/admin/users", pages.users, name="users-page"),
            # comms staff: incidents and canned responses
            web.get("/api/incidents", incidents_api.list_incidents, name="incidents"),
            web.post("/api/incidents", incidents_api.create_incident, name="incident-create"),
            web.get("/api/incidents/{reference}", incidents_api.get_incident, name="incident"),
            web.patch(
                "/api/incidents/{reference}", incidents_api.update_incident, name="incident-update"
            ),
            web.get("/api/responses", responses_api.list_responses, name="responses"),
            web.post("/api/responses", responses_api.create_macro, name="macro-create"),
            web.get("/api/responses/{key}", responses_api.get_response, name="response"),
            web.put("/api/responses/{key}", responses_api.put_response, name="response-save"),
            web.delete("/api/responses/{key}", responses_api.delete_macro, name="macro-delete"),
            web.delete(
                "/api/responses/{key}/{channel}",
                responses_api.delete_variant,
                name="response-variant-delete",
            ),
            web.get("/admin", pages.admin, name="admin-page"),
            # admins: rolling model updates
            web.get("/api/rasa/reload", model_api.latest_reload, name="model-reload"),
            web.post("/api/rasa/reload", model_api.start_reload, name="model-reload-start"),
            # agents: the hand-off queue and conversations taken over from the bot
            web.get("/api/escalations", escalations_api.list_escalations, name="escalations"),
            web.get("/console/events", escalations_api.events, name="console-events"),
            web.post(
                "/api/escalations/{escalation_id}/claim", escalations_api.claim, name="claim"
            ),
            web.get(
                "/api/conversations/{conversation_id}",
                escalations_api.get_conversation,
                name="conversation",
            ),
            web.post(
                "/api/conversations/{conversation_id}/reply", escalations_api.reply, name="reply"
            ),
            web.post(
                "/api/conversations/{conversation_id}/release",
                escalations_api.release,
                name="release",
            ),
            web.post(
                "/api/conversations/{conversation_id}/close", escalations_api.close, name="close"
            ),
            # agents in a surge: macros, one answer to everyone waiting about an incident
            web.get(
                "/api/conversations/{conversation_id}/macros", surge_api.macros, name="macros"
            ),
            web.post(
                "/api/incidents/{reference}/answer", surge_api.answer, name="incident-answer"
            ),
            web.get("/console", pages.console, name="console-page"),
            # the outage at a glance: figures, early-warning alerts, the dashboard page
            web.get("/api/stats", operations_api.get_stats, name="stats"),
            web.get("/api/alerts", operations_api.list_alerts, name="alerts"),
            web.post(
                "/api/alerts/{alert_id}/dismiss",
                operations_api.dismiss_alert,
                name="alert-dismiss",
            ),
            web.post(
                "/api/alerts/{alert_id}/incident",
                operations_api.incident_from_alert,
                name="alert-incident",
            ),
            web.get("/dashboard", pages.dashboard, name="dashboard-page"),
        ]
    )
