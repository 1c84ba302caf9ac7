//! The audit log: one row per admin action, from /admin or `calcweb manage`.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::audit_log;
use crate::db::{DbConn, MultiBackend, now};
use crate::error::AppResult;
use crate::icontains;
use crate::models::User;
use crate::models::paging::{PER_PAGE, Paged, offset};

pub const SOURCE_WEB: &str = "web";
pub const SOURCE_CLI: &str = "cli";
/// What a server does by itself on a schedule (the retention policy).
pub const SOURCE_SERVER: &str = "server";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub object_repr: String,
    pub summary: String,
    pub ip: String,
    pub source: String,
    pub created_at: PrimitiveDateTime,
}

/// Who did it, and from where.
#[derive(Clone)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
    pub ip: String,
    pub source: &'static str,
    /// Web actions are also written to the access log (`admin.<action>` lines for fail2ban
    /// and log readers), once committed; commands have no access log.
    pub access_log: Option<std::sync::Arc<crate::access_log::AccessLog>>,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("ip", &self.ip)
            .field("source", &self.source)
            .finish()
    }
}

impl Actor {
    pub fn web(user: &User, ip: String) -> Actor {
        Actor {
            id: Some(user.id),
            name: user.username.clone(),
            ip,
            source: SOURCE_WEB,
            access_log: None,
        }
    }

    /// Someone on the web not logged in (signing up, logging in for the first time).
    pub fn visitor(ip: String) -> Actor {
        Actor {
            id: None,
            name: String::new(),
            ip,
            source: SOURCE_WEB,
            access_log: None,
        }
    }

    /// Whether this is a [`Actor::visitor`], someone not known yet.
    pub fn is_visitor(&self) -> bool {
        self.id.is_none() && self.name.is_empty()
    }

    /// This actor as `user` (a visitor once their account exists), from the same place.
    pub fn as_user(&self, user: &User) -> Actor {
        Actor {
            id: Some(user.id),
            name: user.username.clone(),
            ..self.clone()
        }
    }

    /// The same actor, with its actions also written to `log`.
    pub fn logging_to(mut self, log: std::sync::Arc<crate::access_log::AccessLog>) -> Actor {
        self.access_log = Some(log);
        self
    }

    /// `cli:<unix user>`, from $USER (or $LOGNAME, or the process's uid when neither is set,
    /// as under cron or systemd), for `calcweb manage` commands.
    pub fn cli() -> Actor {
        let unix_user = ["USER", "LOGNAME"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|u| !u.is_empty())
            .or_else(unix_user_of_process)
            .unwrap_or_else(|| "unknown".into());
        Actor {
            id: None,
            name: format!("cli:{unix_user}"),
            ip: String::new(),
            source: SOURCE_CLI,
            access_log: None,
        }
    }
}

impl Actor {
    /// The server itself, doing `what` on its schedule (e.g. "retention policy").
    pub fn server(what: &str) -> Actor {
        Actor {
            id: None,
            name: what.to_string(),
            ip: String::new(),
            source: SOURCE_SERVER,
            access_log: None,
        }
    }
}

/// The name of the uid this process runs as, from /etc/passwd (else "uid N").
fn unix_user_of_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 2 && fields[2] == uid.to_string()).then(|| fields[0].to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

/// The object an action was done to.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: &'static str,
    pub id: String,
    pub repr: String,
}

impl Target {
    pub fn user(user: &User) -> Target {
        Target {
            kind: "user",
            id: user.id.to_string(),
            repr: user.username.clone(),
        }
    }

    pub fn group(id: i64, name: &str) -> Target {
        Target {
            kind: "group",
            id: id.to_string(),
            repr: name.to_string(),
        }
    }

    pub fn session(id: i64, username: &str) -> Target {
        Target {
            kind: "session",
            id: id.to_string(),
            repr: format!("session of {username}"),
        }
    }
}

/// Filters of the audit page; empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// Part of the actor's name.
    pub actor: String,
    /// Part of the object's name or of the summary.
    pub q: String,
    pub source: String,
    pub since: Option<PrimitiveDateTime>,
    pub until: Option<PrimitiveDateTime>,
}

impl AuditEntry {
    pub fn record(
        conn: &mut DbConn,
        actor: &Actor,
        action: &str,
        target: &Target,
        summary: &str,
    ) -> AppResult<()> {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::actor_id.eq(actor.id),
                audit_log::actor_name.eq(&actor.name),
                audit_log::action.eq(action),
                audit_log::object_type.eq(target.kind),
                audit_log::object_id.eq(&target.id),
                audit_log::object_repr.eq(&target.repr),
                audit_log::summary.eq(summary),
                audit_log::ip.eq(&actor.ip),
                audit_log::source.eq(actor.source),
                audit_log::created_at.eq(now()),
            ))
            .execute(conn)?;
        // The line says the action happened: written once its transaction has committed.
        if let Some(log) = actor.access_log.clone() {
            let event = format!("admin.{action}");
            let (ip, user, object) = (actor.ip.clone(), actor.name.clone(), target.repr.clone());
            conn.on_commit(move || {
                use crate::access_log::Value;
                let fields = [
                    ("user", Value::Text(&user)),
                    ("object", Value::Text(&object)),
                ];
                log.event("INFO", &event, &ip, &fields);
            });
        }
        Ok(())
    }

    /// Newest first.
    pub fn list(
        conn: &mut DbConn,
        filter: &AuditFilter,
        page: i64,
    ) -> AppResult<Paged<AuditEntry>> {
        let total = filtered(filter).count().get_result(conn)?;
        let items = filtered(filter)
            .order((audit_log::created_at.desc(), audit_log::id.desc()))
            .offset(offset(page))
            .limit(PER_PAGE)
            .select(AuditEntry::as_select())
            .load(conn)?;
        Ok(Paged::new(items, total, page))
    }

    /// The most recent entries, for the dashboard.
    pub fn latest(conn: &mut DbConn, n: i64) -> AppResult<Vec<AuditEntry>> {
        Ok(audit_log::table
            .order((audit_log::created_at.desc(), audit_log::id.desc()))
            .limit(n)
            .select(AuditEntry::as_select())
            .load(conn)?)
    }

    /// Every action name seen so far, for the filter's choices.
    pub fn actions(conn: &mut DbConn) -> AppResult<Vec<String>> {
        Ok(audit_log::table
            .select(audit_log::action)
            .distinct()
            .order(audit_log::action)
            .load(conn)?)
    }

    pub fn object_types(conn: &mut DbConn) -> AppResult<Vec<String>> {
        Ok(audit_log::table
            .select(audit_log::object_type)
            .distinct()
            .order(audit_log::object_type)
            .load(conn)?)
    }
}

fn filtered(f: &AuditFilter) -> audit_log::BoxedQuery<'_, MultiBackend> {
    let mut query = audit_log::table.into_boxed();
    if !f.action.is_empty() {
        query = query.filter(audit_log::action.eq(&f.action));
    }
    if !f.object_type.is_empty() {
        query = query.filter(audit_log::object_type.eq(&f.object_type));
    }
    if !f.object_id.is_empty() {
        query = query.filter(audit_log::object_id.eq(&f.object_id));
    }
    if !f.source.is_empty() {
        query = query.filter(audit_log::source.eq(&f.source));
    }
    if !f.actor.is_empty() {
        query = query.filter(icontains!(audit_log::actor_name, &f.actor));
    }
    if !f.q.is_empty() {
        query = query.filter(
            icontains!(audit_log::object_repr, &f.q).or(icontains!(audit_log::summary, &f.q)),
        );
    }
    if let Some(since) = f.since {
        query = query.filter(audit_log::created_at.ge(since));
    }
    if let Some(until) = f.until {
        query = query.filter(audit_log::created_at.lt(until));
    }
    query
}
