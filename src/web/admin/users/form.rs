//! The form of an account, shared by the create and edit pages: what it shows and sends
//! back, and the problems a person can fix in it.

use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::user::UserChanges;
use crate::web::admin::helpers::Fields;

/// What the create and edit forms show and send back.
#[derive(Debug, Clone, Default)]
pub struct UserForm {
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_superuser: bool,
    pub level: i32,
    pub group_ids: Vec<i64>,
}

impl UserForm {
    pub(super) fn of(user: &User, group_ids: Vec<i64>) -> UserForm {
        UserForm {
            username: user.username.clone(),
            email: user.email.clone(),
            full_name: user.full_name.clone(),
            is_superuser: user.is_superuser,
            level: user.level,
            group_ids,
        }
    }

    pub(super) fn from_fields(fields: &Fields) -> UserForm {
        UserForm {
            username: fields.text("username"),
            email: fields.text("email"),
            full_name: fields.text("full_name"),
            is_superuser: fields.checked("is_superuser"),
            level: fields.text("level").parse().unwrap_or(-1),
            group_ids: fields.ids("groups"),
        }
    }

    pub(super) fn changes(&self) -> UserChanges {
        UserChanges {
            username: self.username.clone(),
            email: self.email.clone(),
            full_name: self.full_name.clone(),
            is_superuser: self.is_superuser,
            level: self.level,
        }
    }

    pub(super) fn in_group(&self, id: &i64) -> bool {
        self.group_ids.contains(id)
    }

    /// Problems a person can fix in the form, before the database is asked.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = crate::models::user::check_username(&self.username) {
            problems.push(e);
        }
        if !self.email.is_empty() && !self.email.contains('@') {
            problems.push("The email address needs an @; correct it or leave it empty.".into());
        }
        if crate::actions::accounts::check_level(self.level).is_err() {
            problems.push("Choose a level: view only, default or may share.".into());
        }
        problems
    }
}

/// A rule the form broke, as (status, message); other errors stay errors.
pub(super) fn form_problem(error: AppError) -> AppResult<(u16, String)> {
    match error {
        AppError::BadRequest(m) => Ok((400, m)),
        AppError::Conflict(m) => Ok((409, m)),
        other => Err(other),
    }
}
