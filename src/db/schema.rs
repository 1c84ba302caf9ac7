// The tables, written once for both backends (the migration trees are kept in step).

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        full_name -> Text,
        password_hash -> Text,
        login_source -> Text,
        is_active -> Bool,
        is_superuser -> Bool,
        level -> Integer,
        created_at -> Timestamp,
        last_login -> Nullable<Timestamp>,
        notify_on_finish -> Bool,
    }
}

diesel::table! {
    groups (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_groups (user_id, group_id) {
        user_id -> BigInt,
        group_id -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        key_hash -> Text,
        user_id -> Nullable<BigInt>,
        state -> Text,
        ip -> Text,
        user_agent -> Text,
        created_at -> Timestamp,
        last_seen -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    setup_tokens (token_hash) {
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    calcs (id) {
        id -> BigInt,
        user_id -> BigInt,
        calculator -> Text,
        description -> Text,
        status -> Text,
        is_shared -> Bool,
        parent_id -> Nullable<BigInt>,
        progress -> Integer,
        job_ini -> Text,
        notify_to -> Nullable<Text>,
        host -> Nullable<Text>,
        pid -> Nullable<Integer>,
        abort_requested -> Bool,
        log_rows -> Integer,
        size_bytes -> BigInt,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        slurm_job_id -> Nullable<Text>,
        slurm_reason -> Nullable<Text>,
        dispatched_at -> Nullable<Timestamp>,
        engine_job_id -> Nullable<BigInt>,
        phase -> Nullable<Text>,
        /// Kept by a superuser against the retention policy.
        is_pinned -> Bool,
        pinned_by -> Nullable<Text>,
        pinned_at -> Nullable<Timestamp>,
        /// When the owner was told the retention policy would remove it.
        purge_warned_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    calc_logs (id) {
        id -> BigInt,
        calc_id -> BigInt,
        logged_at -> Timestamp,
        level -> Text,
        process -> Text,
        message -> Text,
    }
}

diesel::table! {
    outputs (id) {
        id -> BigInt,
        calc_id -> BigInt,
        name -> Text,
        size_bytes -> BigInt,
        content_type -> Text,
        created_at -> Timestamp,
        ds_key -> Nullable<Text>,
        outtypes -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_id -> Nullable<BigInt>,
        actor_name -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> Text,
        object_repr -> Text,
        summary -> Text,
        ip -> Text,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    auth_failures (id) {
        id -> BigInt,
        kind -> Text,
        key -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        prefix -> Text,
        token_hash -> Text,
        scope -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// One row (id 1) of counters bumped by triggers: `version` whenever a calculation list
    /// could hold other calculations, `rows_version` when a listed one shows other values; see
    /// `models::list_cache`.
    calc_list_version (id) {
        id -> Integer,
        version -> BigInt,
        rows_version -> BigInt,
    }
}

diesel::table! {
    maintenance (id) {
        id -> Integer,
        starts_at -> Timestamp,
        message -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    emails (id) {
        id -> BigInt,
        kind -> Text,
        to_addr -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Integer,
        last_error -> Text,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        next_attempt_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        email -> Text,
        group_id -> Nullable<BigInt>,
        token_hash -> Text,
        invited_by -> Nullable<BigInt>,
        invited_by_name -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        user_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    activation_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tags (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    calc_tags (calc_id, tag_id) {
        calc_id -> BigInt,
        tag_id -> BigInt,
        is_preferred -> Bool,
    }
}

diesel::table! {
    /// Browsers a user logged in from: the SHA-256 of the device cookie's random value.
    known_devices (id) {
        id -> BigInt,
        user_id -> BigInt,
        device_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
    }
}

diesel::table! {
    /// A user's quota overrides (NULL: not set, -1: no limit); see models::quota.
    user_quotas (user_id) {
        user_id -> BigInt,
        max_running -> Nullable<Integer>,
        max_queued -> Nullable<Integer>,
        max_disk -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// A group's quotas, on its members' calculations together (NULL: not set, -1: no limit).
    group_quotas (group_id) {
        group_id -> BigInt,
        max_running -> Nullable<Integer>,
        max_queued -> Nullable<Integer>,
        max_disk -> Nullable<BigInt>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(user_quotas -> users (user_id));
diesel::joinable!(group_quotas -> groups (group_id));
diesel::joinable!(known_devices -> users (user_id));
diesel::joinable!(user_groups -> users (user_id));
diesel::joinable!(calcs -> users (user_id));
diesel::joinable!(calc_logs -> calcs (calc_id));
diesel::joinable!(outputs -> calcs (calc_id));
diesel::joinable!(calc_tags -> calcs (calc_id));
diesel::joinable!(calc_tags -> tags (tag_id));
diesel::joinable!(user_groups -> groups (group_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(audit_log -> users (actor_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    groups,
    user_groups,
    sessions,
    setup_tokens,
    calcs,
    calc_logs,
    outputs,
    audit_log,
    auth_failures,
    api_tokens,
    known_devices,
    emails,
    invitations,
    activation_tokens,
    maintenance,
    tags,
    calc_tags,
    user_quotas,
    group_quotas,
);
