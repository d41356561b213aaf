//! The OpenAPI 3.1 document of `/api/v1`, built from the route table ([`ROUTES`]),
//! so a route cannot exist without being documented. A snapshot test keeps the
//! published document under review.

use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::api::{Allowed, ROUTES};

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Response {
    axum::Json(openapi()).into_response()
}

/// The whole document.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut operation = Map::new();
        operation.insert("summary".into(), json!(route.summary));
        operation.insert("operationId".into(), json!(operation_id(route.method, route.path)));
        let roles = route.allowed.roles();
        if route.allowed == Allowed::Public {
            operation.insert("security".into(), json!([]));
        } else {
            operation.insert("x-roles".into(), json!(roles));
        }
        let mut parameters: Vec<Value> = Vec::new();
        if route.path.contains("{id}") {
            parameters.push(json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }));
        }
        parameters.extend(query_parameters(route.method, route.path));
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(body) = route.body {
            operation.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": { "schema": schema_ref(body) } } }),
            );
        }
        let success = match (route.method, route.answer) {
            (_, "Empty") => json!({ "204": { "description": "Done" } }),
            ("POST", _)
                if route.path.ends_with("/replies")
                    || route.path.ends_with("/notes")
                    || route.path.ends_with("/split")
                    || matches!(route.path, "/teams" | "/users" | "/tokens" | "/rules" | "/canned-answers") =>
            {
                json!({ "201": answer(route.answer) })
            }
            _ => json!({ "200": answer(route.answer) }),
        };
        let mut responses = success.as_object().cloned().unwrap_or_default();
        let error =
            json!({ "description": "Error", "content": { "application/json": { "schema": schema_ref("Error") } } });
        for status in ["400", "401", "403", "404", "409", "422", "429"] {
            responses.insert(status.into(), error.clone());
        }
        operation.insert("responses".into(), Value::Object(responses));
        let path = paths.entry(format!("/api/v1{}", route.path)).or_insert_with(|| json!({}));
        if let Some(path) = path.as_object_mut() {
            path.insert(route.method.to_lowercase(), Value::Object(operation));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Townhall API",
            "version": "1",
            "description": "The shared inbox of a public body. Every answer is JSON; errors are {\"error\":{\"code\",\"message\"}} with a stable code. Authenticate with `Authorization: Bearer <token>` or the session cookie from POST /api/v1/session, which then needs the `X-CSRF-Token` header on every request that changes something. Lists page with an opaque cursor."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, { "session": [] }],
        "paths": paths,
        "components": { "securitySchemes": security_schemes(), "schemas": schemas() },
    })
}

fn answer(schema: &str) -> Value {
    json!({ "description": "OK", "content": { "application/json": { "schema": schema_ref(schema) } } })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .split(['/', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| if w == "{id}" { "by_id".to_owned() } else { w.to_owned() })
        .collect();
    format!("{}_{}", method.to_lowercase(), words.join("_"))
}

fn query_parameters(method: &str, path: &str) -> Vec<Value> {
    let query = |name: &str, schema: Value, description: &str| json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description });
    let text = json!({ "type": "string" });
    match (method, path) {
        ("GET", "/cases") => vec![
            query("status", json!({ "enum": ["new", "open", "pending", "resolved", "closed"] }), "Status"),
            query("team", json!({ "type": "integer" }), "Team id"),
            query("assignee", text.clone(), "A user id, or `me`"),
            query("platform", text.clone(), "Channel, e.g. mastodon"),
            query("intent", text.clone(), "question, complaint, suggestion, praise, information or other"),
            query("topic", text.clone(), "Topic key, e.g. transport"),
            query("lang", text.clone(), "Language code"),
            query("deadline", json!({ "enum": ["breached", "due_soon", "on_time"] }), "Deadline state now"),
            query("q", text.clone(), "Words or \"phrases\" in the case's posts; -word excludes"),
            query("referred", json!({ "type": "boolean" }), "Cases this institution referred away"),
            query("cursor", text.clone(), "next_cursor of the previous page"),
            query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 200 }), "Page size (50)"),
        ],
        ("GET", "/audit") => vec![
            query("after", json!({ "type": "integer" }), "next_after of the previous page"),
            query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }), "Page size (100)"),
        ],
        _ => Vec::new(),
    }
}

fn security_schemes() -> Value {
    json!({
        "bearer": { "type": "http", "scheme": "bearer", "description": "An API token (th_…), from POST /api/v1/tokens or `townhall admin token create`" },
        "session": { "type": "apiKey", "in": "cookie", "name": "townhall_session" },
    })
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

fn list(of: &str) -> Value {
    json!({ "type": "array", "items": schema_ref(of) })
}

fn schemas() -> Value {
    let id = json!({ "type": "integer" });
    let text = json!({ "type": "string" });
    let time = json!({ "type": "string", "format": "date-time" });
    let maybe = |schema: &Value| json!({ "anyOf": [schema, { "type": "null" }] });
    let priority = json!({ "enum": ["low", "normal", "high", "urgent"] });
    let role = json!({ "enum": ["admin", "lead", "agent", "analyst", "auditor"] });
    json!({
        "Error": object(&["error"], json!({ "error": object(&["code", "message"], json!({ "code": text, "message": text })) })),
        "SignIn": object(&["email", "password"], json!({ "email": text, "password": text })),
        "Session": object(&["user", "csrf_token"], json!({ "user": schema_ref("User"), "csrf_token": text })),
        "Me": object(&["user", "institution"], json!({ "user": schema_ref("User"), "institution": schema_ref("Institution") })),
        "Institution": object(&["id", "slug", "name", "kind", "level", "country"], json!({
            "id": id, "slug": text, "name": text, "kind": text, "level": text, "country": text,
            "parent": maybe(&id), "jurisdiction": maybe(&text),
        })),
        "Institutions": list("Institution"),
        "User": object(&["id", "institution_id", "email", "name", "role", "active", "available"], json!({
            "id": id, "institution_id": id, "email": text, "name": text, "role": role, "team_id": maybe(&id),
            "active": { "type": "boolean" }, "available": { "type": "boolean" }, "max_open_cases": maybe(&id),
        })),
        "Users": list("User"),
        "UserRequest": object(&["email", "name", "role"], json!({
            "email": text, "name": text, "role": role, "team_id": maybe(&id),
            "password": { "type": "string", "minLength": 12 },
        })),
        "UserChange": object(&[], json!({
            "role": role, "team_id": maybe(&id), "available": { "type": "boolean" }, "max_open_cases": maybe(&id),
            "active": { "type": "boolean" },
        })),
        "Team": object(&["id", "institution_id", "name"], json!({ "id": id, "institution_id": id, "name": text })),
        "Teams": list("Team"),
        "TeamRequest": object(&["name"], json!({ "name": text })),
        "TokenRequest": object(&["name"], json!({ "name": text })),
        "Token": object(&["id", "name", "token"], json!({ "id": id, "name": text, "token": text })),
        "Case": object(&["id", "institution_id", "subject", "status", "priority", "opened_at", "version"], json!({
            "id": id, "institution_id": id, "contact_id": maybe(&id), "subject": text, "platform": maybe(&text),
            "tags": { "type": "array", "items": text },
            "status": { "enum": ["new", "open", "pending", "resolved", "closed"] }, "priority": priority,
            "team_id": maybe(&id), "assignee": maybe(&id), "opened_at": time,
            "first_response_due": maybe(&time), "resolution_due": maybe(&time), "first_response_at": maybe(&time),
            "resolved_at": maybe(&time), "outcome": maybe(&text), "closed_at": maybe(&time),
            "close_reason": maybe(&json!({ "enum": ["answered_elsewhere", "duplicate", "spam", "not_a_question", "out_of_remit"] })),
            "version": id,
        })),
        "CasePage": object(&["items", "next_cursor"], json!({ "items": list("Case"), "next_cursor": maybe(&text) })),
        "CaseDetail": object(&["case", "access", "posts", "replies", "notes", "referrals", "audit"], json!({
            "case": schema_ref("Case"), "access": { "enum": ["owner", "referrer"] },
            "posts": { "type": "array", "items": { "type": "object" } }, "replies": list("Reply"), "notes": list("Note"),
            "referrals": list("Referral"), "rating": maybe(&schema_ref("Rating")),
            "audit": { "type": "array", "items": schema_ref("AuditEvent") },
        })),
        "CaseAction": {
            "description": "One of: {\"action\":\"open\"}, {\"action\":\"assign\",\"team\":ID|null,\"assignee\":ID|null}, {\"action\":\"set_priority\",\"priority\":P}, {\"action\":\"resolve\",\"outcome\":TEXT}, {\"action\":\"close\",\"reason\":R|null}, {\"action\":\"reopen\"}",
            "type": "object", "required": ["action"],
            "properties": { "action": { "enum": ["open", "assign", "set_priority", "resolve", "close", "reopen"] } },
        },
        "ReplyRequest": object(&[], json!({
            "body": text, "canned_answer": id, "idempotency_key": text, "force": { "type": "boolean" },
        })),
        "Reply": object(&["id", "case_id", "kind", "platform", "body", "status", "attempts", "created_at"], json!({
            "id": id, "case_id": id, "institution_id": id, "user_id": maybe(&id),
            "kind": { "enum": ["answer", "acknowledgement", "referral", "outcome", "satisfaction"] },
            "post_id": id, "platform": text, "account_id": maybe(&id), "body": text,
            "status": { "enum": ["awaiting_approval", "queued", "sent", "failed"] }, "attempts": id,
            "external_id": maybe(&text), "url": maybe(&text), "error_code": maybe(&text), "error": maybe(&text),
            "approved_by": maybe(&id), "created_at": time, "sent_at": maybe(&time),
        })),
        "NoteRequest": object(&["body"], json!({ "body": text })),
        "Note": object(&["id", "case_id", "user_id", "body", "mentions", "created_at"], json!({
            "id": id, "case_id": id, "institution_id": id, "user_id": id, "body": text,
            "mentions": { "type": "array", "items": id }, "created_at": time,
        })),
        "ReferralRequest": object(&["to", "reason"], json!({ "to": id, "reason": text })),
        "Referral": object(&["from", "to", "reason", "at"], json!({ "from": id, "to": id, "reason": text, "user_id": maybe(&id), "at": time })),
        "Rating": object(&["case_id", "score", "at"], json!({ "case_id": id, "score": { "type": "integer", "minimum": 1, "maximum": 5 }, "post_id": maybe(&id), "at": time })),
        "MergeRequest": object(&["from"], json!({ "from": id })),
        "SplitRequest": object(&["post_ids"], json!({ "post_ids": { "type": "array", "items": id } })),
        "Breaches": object(&["counts", "items"], json!({
            "counts": object(&["first_response", "resolution"], json!({ "first_response": id, "resolution": id })),
            "items": { "type": "array", "items": object(&["case_id", "kind", "due_at", "flagged_at"], json!({
                "case_id": id, "institution_id": id, "kind": { "enum": ["first_response", "resolution"] }, "due_at": time, "flagged_at": time,
            })) },
        })),
        "Rule": object(&["name", "position", "actions"], json!({
            "id": id, "name": text, "position": id, "enabled": { "type": "boolean" }, "stop": { "type": "boolean" },
            "conditions": { "type": "array", "items": { "type": "object", "required": ["field"], "description": "{\"field\": platform|account|language|intent|topic|keywords|author, \"any_of\": [...]} or {\"field\": urgency|spam, \"at_least\": 0..1}" } },
            "actions": { "type": "array", "items": { "type": "object", "required": ["action"], "description": "{\"action\": assign_team (team) | assign_agent (user) | set_priority (priority) | tag (tag) | acknowledge (canned_answer)}" } },
        })),
        "Rules": list("Rule"),
        "DeadlinePolicy": object(&["priority", "first_response_secs", "resolution_secs"], json!({
            "priority": priority, "platform": maybe(&text), "first_response_secs": id, "resolution_secs": id,
        })),
        "DeadlinePolicies": list("DeadlinePolicy"),
        "InboxSettings": object(&[], json!({
            "calendar": object(&["timezone", "hours"], json!({
                "timezone": text, "hours": { "type": "object", "description": "mon..sun: \"09:00-17:00\" or null" },
                "holidays": { "type": "array", "items": { "type": "string", "format": "date" } },
            })),
            "satisfaction_delay_secs": maybe(&id), "approval_topics": { "type": "array", "items": text },
            "approval_roles": { "type": "array", "items": role },
        })),
        "CannedAnswer": object(&["id", "name", "lang", "body"], json!({ "id": id, "name": text, "lang": text, "body": text })),
        "CannedAnswerRequest": object(&["name", "lang", "body"], json!({ "name": text, "lang": text, "body": text })),
        "CannedAnswers": list("CannedAnswer"),
        "Account": object(&["id", "institution_id", "platform", "handle"], json!({
            "id": id, "institution_id": id, "platform": text, "handle": text, "display_name": text,
            "external_id": maybe(&text), "official": maybe(&text),
        })),
        "Accounts": list("Account"),
        "Credentials": object(&["endpoint", "secret"], json!({ "endpoint": text, "identifier": maybe(&text), "secret": text })),
        "AuditEvent": object(&["id", "at", "actor", "action", "object_kind", "object_id"], json!({
            "id": id, "at": time, "institution_id": maybe(&id), "actor": text, "action": text, "object_kind": text,
            "object_id": text, "before": {}, "after": {}, "origin": maybe(&text),
        })),
        "AuditPage": object(&["items", "next_after"], json!({ "items": list("AuditEvent"), "next_after": maybe(&id) })),
    })
}
