//! Unix groups: which calcweb groups follow them (`map_unix_groups`), which grant superuser
//! (`superuser_groups`), and the person's name from GECOS.

use std::collections::BTreeSet;
use std::ffi::CString;

use crate::config::PamConfig;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::models::group::{Group, check_group_name};

/// The names of the unix groups of `username` (primary and supplementary), sorted; empty when
/// the system has no such user.
pub fn unix_groups(username: &str) -> Vec<String> {
    let Ok(Some(user)) = nix::unistd::User::from_name(username) else {
        return Vec::new();
    };
    let Ok(name) = CString::new(username) else {
        return Vec::new();
    };
    let gids = nix::unistd::getgrouplist(&name, user.gid).unwrap_or_else(|_| vec![user.gid]);
    let names: BTreeSet<String> = gids
        .into_iter()
        .filter_map(|gid| nix::unistd::Group::from_gid(gid).ok().flatten())
        .map(|g| g.name)
        .collect();
    names.into_iter().collect()
}

/// Whether the calcweb group `name` is one that `map_unix_groups` manages.
fn mapped_name(cfg: &PamConfig, name: &str) -> bool {
    (cfg.groups_allow.is_empty() || cfg.groups_allow.iter().any(|g| g == name))
        && (cfg.groups_prefix.is_empty() || name.starts_with(&cfg.groups_prefix))
        && check_group_name(name).is_ok()
}

/// The calcweb groups that `unix` maps to (same names), sorted.
pub fn mapped_groups(cfg: &PamConfig, unix: &[String]) -> Vec<String> {
    unix.iter()
        .filter(|g| mapped_name(cfg, g))
        .cloned()
        .collect()
}

/// The superuser groups among `unix`.
pub fn superuser_groups_of(cfg: &PamConfig, unix: &[String]) -> Vec<String> {
    cfg.superuser_groups
        .iter()
        .filter(|g| unix.contains(g))
        .cloned()
        .collect()
}

/// Makes the user's memberships of mapped groups equal to their mapped unix groups.
pub fn sync_groups(
    conn: &mut DbConn,
    cfg: &PamConfig,
    user_id: i64,
    unix: &[String],
) -> AppResult<()> {
    let wanted = mapped_groups(cfg, unix);
    let current = Group::of_user(conn, user_id)?;
    for group in &current {
        if mapped_name(cfg, &group.name) && !wanted.contains(&group.name) {
            Group::remove_member(conn, group.id, user_id)?;
        }
    }
    for name in &wanted {
        if !current.iter().any(|g| &g.name == name) {
            let (group, _) = Group::find_or_create(conn, name)?;
            Group::add_member(conn, group.id, user_id)?;
        }
    }
    Ok(())
}

/// The first field of the GECOS entry: the person's name, if the system knows it.
pub fn full_name(username: &str) -> String {
    nix::unistd::User::from_name(username)
        .ok()
        .flatten()
        .map(|u| {
            let gecos = u.gecos.to_string_lossy().into_owned();
            let name = gecos.split(',').next().unwrap_or("").trim();
            name.chars().filter(|c| !c.is_control()).take(150).collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_decides_which_groups_are_mapped() {
        let unix: Vec<String> = ["bob", "calc_physics", "calc_chem", "sudo"]
            .map(String::from)
            .to_vec();
        let mut cfg = PamConfig::default();
        assert_eq!(mapped_groups(&cfg, &unix), unix);
        cfg.groups_prefix = "calc_".into();
        assert_eq!(mapped_groups(&cfg, &unix), ["calc_physics", "calc_chem"]);
        cfg.groups_allow = vec!["calc_chem".into(), "sudo".into()];
        assert_eq!(mapped_groups(&cfg, &unix), ["calc_chem"]);
        cfg.groups_prefix.clear();
        assert_eq!(mapped_groups(&cfg, &unix), ["calc_chem", "sudo"]);
    }
}
