// @generated automatically by Diesel CLI.

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        user_id -> Nullable<Uuid>,
        username -> Nullable<Text>,
        role -> Nullable<Text>,
        unit_id -> Nullable<Int8>,
        action -> Text,
        target_kind -> Nullable<Text>,
        target_id -> Nullable<Text>,
        patient_id -> Nullable<Uuid>,
        patient_pseudonym -> Nullable<Bytea>,
        outcome -> Text,
        request_id -> Nullable<Text>,
        detail -> Jsonb,
    }
}

diesel::table! {
    grants (id) {
        id -> Int8,
        user_id -> Uuid,
        role -> Text,
        node_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    org_links (id) {
        id -> Int8,
        child_id -> Int8,
        parent_id -> Int8,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    org_nodes (id) {
        id -> Int8,
        kind -> Text,
        name -> Text,
        org_number -> Nullable<Text>,
        resh_id -> Nullable<Int8>,
        is_demo -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        token_generation -> Int4,
        disabled -> Bool,
        failed_logins -> Int4,
        failure_window_start -> Nullable<Timestamptz>,
        locked_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(grants -> org_nodes (node_id));
diesel::joinable!(grants -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(audit_log, grants, org_links, org_nodes, users,);
