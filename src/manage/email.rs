//! `manage sendtestemail ADDRESS` (sends at once, without the outbox, and says in plain words
//! what went wrong) and `manage invite EMAIL [--group G]` (queues the invitation email).

use super::users::sentence;
use crate::config::Config;
use crate::mail::{Mailer, messages};
use crate::models::audit::Actor;

pub fn sendtestemail(config: &Config, address: &str) -> Result<(), String> {
    let address = address.trim();
    if !crate::mail::is_address(address) {
        return Err(format!(
            "{address:?} is not an email address like name@example.org."
        ));
    }
    let mailer = Mailer::from_config(config)?;
    let destination = mailer.destination();
    let sent_by = format!("`calcweb manage sendtestemail` ({})", Actor::cli().name);
    let message = messages::test_email(config, address, &destination, &sent_by)
        .map_err(|e| format!("The test email could not be written: {e}."))?;
    match mailer.send(&message) {
        Ok(()) => {
            outln!("Sent a test email to {address} through {destination}.");
            if let Mailer::Console { .. } = mailer {
                outln!(
                    "(The console backend only prints messages; set [email] backend = \"smtp\" to send real email.)"
                );
            }
            Ok(())
        }
        Err(e) => Err(format!("The test email to {address} was not sent. {e}")),
    }
}

#[derive(clap::Args)]
pub struct InviteArgs {
    /// The address to invite
    pub email: String,
    /// The group the new account lands in (created when missing)
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
}

pub fn invite(config: &Config, args: InviteArgs) -> Result<(), String> {
    crate::actions::invites::check_allowed(config).map_err(sentence)?;
    if let Some(name) = &args.group {
        crate::models::group::check_group_name(name)
            .map_err(|e| format!("--group {name:?}: {e}"))?;
    }
    let mut conn = super::connect_migrated(config)?;
    let actor = Actor::cli();
    let (group, created) = match &args.group {
        Some(name) => {
            let (group, created) =
                crate::actions::groups::ensure(&mut conn, &actor, name).map_err(sentence)?;
            (Some(group), created)
        }
        None => (None, false),
    };
    if created && let Some(group) = &group {
        outln!("Group {:?} created.", group.name);
    }
    let (invitation, token) =
        crate::actions::invites::invite(&mut conn, config, &actor, &args.email, group.as_ref())
            .map_err(sentence)?;
    let into = group
        .as_ref()
        .map(|g| format!(" into {}", g.name))
        .unwrap_or_default();
    outln!(
        "Invited {}{into}; the link works for {} days:\n{}",
        invitation.email,
        config.registration.invite_days,
        messages::invitation_link(config, &token)
    );
    outln!(
        "The invitation email is queued; a running `calcweb serve` sends it (its state shows on /admin/emails/)."
    );
    Ok(())
}
