//! Checking a username and password against local accounts, at the same cost whether or not
//! the user exists, and upgrading old hashes on success.

use crate::auth::password::{self, Verified};
use crate::db::Db;
use crate::error::AppResult;
use crate::models::User;

pub enum LoginOutcome {
    Ok(User),
    Failed,
}

pub async fn authenticate(db: &Db, username: &str, password_text: &str) -> AppResult<LoginOutcome> {
    let (username, password_text) = (username.to_string(), password_text.to_string());
    db.run(move |conn| {
        let Some(user) = User::find_by_username(conn, &username)? else {
            password::burn_time(&password_text);
            return Ok(LoginOutcome::Failed);
        };
        let verified = password::verify(&password_text, &user.password_hash);
        if verified == Verified::No || !user.is_active {
            return Ok(LoginOutcome::Failed);
        }
        if verified == Verified::YesRehash {
            User::set_password_hash(conn, user.id, &password::hash(&password_text))?;
        }
        User::record_login(conn, user.id)?;
        Ok(LoginOutcome::Ok(user))
    })
    .await
}
