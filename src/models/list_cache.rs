//! Calculation lists kept between requests while nothing they show has changed.
//!
//! A page of a list walks the newest calculations until it has found enough that the viewer
//! may see, and its total counts an index of all of them: most of the cost of a list request
//! on a large database. Lists are polled (the WebUI's /v1/calc/list, /engine/ left open), and
//! between two polls nothing has usually changed. Database triggers bump two counters in
//! `calc_list_version` (see its migrations): `version` on every change that can make a list
//! hold other calculations (added, removed, status, sharing, owner, memberships, usernames,
//! tags),
//! `rows_version` on changes to what a listed calculation shows besides (progress, size,
//! parent, start time). A request reads that one row; a page read earlier is served again
//! only while both counters are where they were, and a total while `version` is. The counters
//! live in the database, so this holds for every server sharing it and for changes made by
//! supervisors, the CLI or SQL.
//!
//! The key of an entry holds what the query reads of the viewer (id, superuser) and every
//! filter, order and bound: two viewers never share an entry. Rights on each row (abort,
//! remove) are still worked out per request from the viewer's current level and the page's
//! group-mates; the API's JSON of a page is kept with it for the level it was written for.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use diesel::prelude::*;
use quick_cache::sync::Cache;

use crate::config::QuotasConfig;
use crate::db::DbConn;
use crate::db::schema::calc_list_version;
use crate::error::AppResult;
use crate::models::User;
use crate::models::calc::{Calc, CalcRow, ListQuery, OrderBy, Status, StatusCounts};
use crate::models::log::LogRow;
use crate::models::quota::{self, Limit, Usage};
use crate::models::tag::Tag;

/// The counters of `calc_list_version` at the start of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListStamp {
    lists: i64,
    rows: i64,
}

impl ListStamp {
    /// Read before the data it stamps: a change landing in between bumps a counter again, so
    /// nothing is ever kept under a stamp older than what it saw.
    pub fn read(conn: &mut DbConn) -> AppResult<ListStamp> {
        let (lists, rows) = calc_list_version::table
            .find(1)
            .select((calc_list_version::version, calc_list_version::rows_version))
            .first(conn)?;
        Ok(ListStamp { lists, rows })
    }

    /// A notification's payload (`models::list_stamps`): `<version>:<rows_version>`.
    pub fn parse(payload: &str) -> Option<ListStamp> {
        let (lists, rows) = payload.split_once(':')?;
        Some(ListStamp {
            lists: lists.parse().ok()?,
            rows: rows.parse().ok()?,
        })
    }

    /// Each counter at the larger of the two (both only ever grow).
    pub fn max(self, other: ListStamp) -> ListStamp {
        ListStamp {
            lists: self.lists.max(other.lists),
            rows: self.rows.max(other.rows),
        }
    }
}

/// One page of a list: its rows, and which of their owners are the viewer's group-mates.
#[derive(Debug, Default)]
pub struct ListPage {
    pub rows: Vec<CalcRow>,
    pub mates: HashSet<i64>,
    /// The tags of the rows that have some, as OpenQuake's list writes them (`"a★, b"`); a
    /// change of tags bumps `version`, so a kept page never shows old ones.
    pub tags: HashMap<i64, String>,
    /// The page as the API writes it, and the viewer's rights it was written for.
    rendered: Mutex<Option<(u64, Bytes)>>,
    /// The last error of each failed row, read the first time /engine/ shows the page (the API
    /// does not show them). A failed calculation's log is finished, so they stay true.
    failures: Mutex<Option<Arc<HashMap<i64, String>>>>,
}

impl ListPage {
    /// The last ERROR row of each failed calculation of the page that has one.
    pub fn failures(&self, conn: &mut DbConn) -> AppResult<Arc<HashMap<i64, String>>> {
        if let Some(kept) = &*self.failures.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(kept.clone());
        }
        let failed: Vec<i64> = self
            .rows
            .iter()
            .filter(|r| r.calc.status == Status::Failed)
            .map(|r| r.calc.id)
            .collect();
        let found = Arc::new(LogRow::last_errors(conn, &failed)?);
        *self.failures.lock().unwrap_or_else(|e| e.into_inner()) = Some(found.clone());
        Ok(found)
    }

    /// `render(self)`, written once and kept with the page while the viewer's `rights` (what
    /// the rendering shows of them beyond the key: their level, which decides what they may
    /// abort) stay the same.
    pub fn rendered<E>(
        &self,
        rights: u64,
        render: impl FnOnce(&ListPage) -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        if let Some((kept_for, bytes)) = &*self.rendered.lock().unwrap_or_else(|e| e.into_inner())
            && *kept_for == rights
        {
            return Ok(bytes.clone());
        }
        let bytes = render(self)?;
        *self.rendered.lock().unwrap_or_else(|e| e.into_inner()) = Some((rights, bytes.clone()));
        Ok(bytes)
    }
}

/// Quota limits with the `version` they were read under.
type KeptLimits = (i64, Arc<Vec<Limit>>);

/// Weighs a page by its rows, so the bound is on what the cache holds, not on how many pages.
#[derive(Clone)]
struct ByRows;

impl quick_cache::Weighter<String, (ListStamp, Arc<ListPage>)> for ByRows {
    fn weight(&self, _: &String, (_, page): &(ListStamp, Arc<ListPage>)) -> u64 {
        page.rows.len() as u64 + 1
    }
}

/// Pages, counts and the meter's figures of this process (`AppState::lists`).
pub struct ListCache {
    /// `[calcs] list_cache_rows`: 0 keeps no page.
    max_rows: usize,
    pages: Cache<String, (ListStamp, Arc<ListPage>), ByRows>,
    /// Counts by status by viewer and filters (but the status filters), with the `version`
    /// they were counted under.
    counts: Cache<String, (i64, Arc<StatusCounts>)>,
    /// The usage meter's figures by user (summing a user's sizes is the costly part of the
    /// meter above /engine/), with the stamp they were counted under.
    usage: Cache<i64, (ListStamp, Usage)>,
    /// The quota limits that apply to a user (the meter), by user and level, with the
    /// `version` they were read under (a change of quotas or group names moves it).
    limits: Cache<(i64, bool), KeptLimits>,
    /// Each user's group-mates, with the `version` they were read under (a change of
    /// memberships moves it).
    mates: Cache<i64, (i64, Arc<Vec<i64>>)>,
    /// Every tag's name (the list's tag filter), with the `version` it was read under (a
    /// change of tags moves it).
    tag_names: Mutex<Option<(i64, Arc<Vec<String>>)>>,
    /// The counters, known without a round trip while PostgreSQL notifies them.
    pub stamps: crate::models::list_stamps::ListStamps,
}

impl ListCache {
    /// Entries kept at most in each of the small caches (every filter typed is a key).
    const MAX_SMALL: usize = 10_000;

    /// A cache holding pages of at most `max_rows` rows in all. It is split in shards (eight
    /// at most for 10,000 rows, whatever the cores: quick_cache keeps 32 pages a shard) and a
    /// page must fit in one, so pages over about an eighth of `max_rows` are read each time.
    /// `work_done` is the pool's count of work that may have written ([`crate::db::Db::work_done`]).
    pub fn new(max_rows: usize, work_done: Arc<std::sync::atomic::AtomicU64>) -> ListCache {
        ListCache {
            stamps: crate::models::list_stamps::ListStamps::new(work_done),
            tag_names: Mutex::default(),
            limits: Cache::new(Self::MAX_SMALL),
            mates: Cache::new(Self::MAX_SMALL),
            max_rows,
            pages: Cache::with_weighter((max_rows / 25).max(1), max_rows.max(1) as u64, ByRows),
            counts: Cache::new(Self::MAX_SMALL),
            usage: Cache::new(Self::MAX_SMALL),
        }
    }

    /// The counters now, to stamp what is read after (see `models::list_stamps`).
    pub fn stamp(&self, conn: &mut DbConn) -> AppResult<ListStamp> {
        self.stamps.current(conn)
    }

    /// The quota limits that apply to `user` ([`quota::limits_for`]), read again only when a
    /// list, a quota or a group's name changed.
    pub fn limits(
        &self,
        conn: &mut DbConn,
        stamp: ListStamp,
        quotas: &QuotasConfig,
        user: &User,
    ) -> AppResult<Arc<Vec<Limit>>> {
        let key = (user.id, user.is_superuser);
        if let Some((version, limits)) = self.limits.get(&key)
            && version == stamp.lists
        {
            return Ok(limits);
        }
        let limits = Arc::new(quota::limits_for(conn, quotas, user.id, user.is_superuser)?);
        self.limits.insert(key, (stamp.lists, limits.clone()));
        Ok(limits)
    }

    /// The group-mates of `user` ([`Calc::mate_ids`]), read again only when a list changed.
    pub fn mates(
        &self,
        conn: &mut DbConn,
        stamp: ListStamp,
        user: &User,
    ) -> AppResult<Arc<Vec<i64>>> {
        // Superusers see everything: their lists do not ask.
        if user.is_superuser {
            return Ok(Arc::default());
        }
        if let Some((version, mates)) = self.mates.get(&user.id)
            && version == stamp.lists
        {
            return Ok(mates);
        }
        let mut mates: Vec<i64> = Calc::mate_ids(conn, user.id)?.into_iter().collect();
        mates.sort_unstable();
        let mates = Arc::new(mates);
        self.mates.insert(user.id, (stamp.lists, mates.clone()));
        Ok(mates)
    }

    /// Every tag's name, read again only when a list changed.
    pub fn tag_names(&self, conn: &mut DbConn, stamp: ListStamp) -> AppResult<Arc<Vec<String>>> {
        let kept = self
            .tag_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((version, names)) = kept
            && version == stamp.lists
        {
            return Ok(names);
        }
        let names = Arc::new(Tag::names(conn)?);
        *self.tag_names.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((stamp.lists, names.clone()));
        Ok(names)
    }

    /// The page `q` of the calculations `user` may see, read again only if a list changed.
    pub fn page(
        &self,
        conn: &mut DbConn,
        stamp: ListStamp,
        user: &User,
        q: &ListQuery,
    ) -> AppResult<Arc<ListPage>> {
        let key = page_key(user, q);
        if self.max_rows > 0
            && let Some((kept, page)) = self.pages.get(&key)
            && kept == stamp
        {
            return Ok(page);
        }
        let mates = self.mates(conn, stamp, user)?;
        let page = Arc::new(read_page(conn, user, &mates, q)?);
        if self.max_rows == 0 {
            return Ok(page);
        }
        self.pages.insert(key, (stamp, page.clone()));
        Ok(page)
    }

    /// How many calculations `user` may see in each status with `q`'s other filters
    /// ([`Calc::count_by_status`]), counted again only if a list could hold other calculations.
    pub fn status_counts(
        &self,
        conn: &mut DbConn,
        stamp: ListStamp,
        user: &User,
        q: &ListQuery,
    ) -> AppResult<Arc<StatusCounts>> {
        let any_status = ListQuery {
            statuses: Vec::new(),
            is_running: None,
            ..q.clone()
        };
        let key = filter_key(user, &any_status);
        if let Some((version, counts)) = self.counts.get(&key)
            && version == stamp.lists
        {
            return Ok(counts);
        }
        let mates = self.mates(conn, stamp, user)?;
        let counts = Arc::new(Calc::count_by_status(
            conn,
            user,
            Some(&mates),
            &any_status,
        )?);
        self.counts.insert(key, (stamp.lists, counts.clone()));
        Ok(counts)
    }

    /// What `user_id`'s calculations take ([`Usage::of_user`]), counted again only when a
    /// calculation changed (status and size move the stamp; the hand-over of a queued one to
    /// Slurm does not, so the meter may call it queued until it starts). Quota checks never
    /// read this: they count in their transaction.
    pub fn usage(&self, conn: &mut DbConn, stamp: ListStamp, user_id: i64) -> AppResult<Usage> {
        if let Some((kept, usage)) = self.usage.get(&user_id)
            && kept == stamp
        {
            return Ok(usage);
        }
        let usage = Usage::of_user(conn, user_id)?;
        self.usage.insert(user_id, (stamp, usage));
        Ok(usage)
    }
}

fn read_page(conn: &mut DbConn, user: &User, mates: &[i64], q: &ListQuery) -> AppResult<ListPage> {
    let rows = Calc::list_among(conn, user, Some(mates), q)?;
    // Rights on rows (`CalcRow::access`) need the mates only for others' running
    // calculations, which a mate may abort.
    let others_running = rows
        .iter()
        .any(|r| r.calc.user_id != user.id && r.calc.is_running());
    let mates = match others_running {
        true => mates.iter().copied().collect(),
        false => HashSet::new(),
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.calc.id).collect();
    let tags = Tag::labels(conn, &ids)?;
    Ok(ListPage {
        rows,
        mates,
        tags,
        rendered: Mutex::default(),
        failures: Mutex::default(),
    })
}

/// What the list query reads of the viewer, and the filters: the key of a total. Written from
/// the whole query (its `Debug`), so a filter added to [`ListQuery`] is in every key without
/// being named here.
fn filter_key(user: &User, q: &ListQuery) -> String {
    let filters = ListQuery {
        order_by: OrderBy::default(),
        descending: false,
        limit: 0,
        offset: 0,
        ..q.clone()
    };
    page_key(user, &filters)
}

/// The key of a page: the viewer, the filters, the order and the bounds.
fn page_key(user: &User, q: &ListQuery) -> String {
    format!("{}|{}|{q:?}", user.id, user.is_superuser)
}
