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
        patient_ids -> Nullable<Array<Nullable<Uuid>>>,
        patient_pseudonyms -> Nullable<Array<Nullable<Bytea>>>,
    }
}

diesel::table! {
    baseline_forms (form_id) {
        form_id -> Uuid,
        referral_diagnosis -> Nullable<Text>,
        substance_diagnoses -> Nullable<Array<Nullable<Text>>>,
        psychiatric_diagnoses -> Nullable<Array<Nullable<Text>>>,
        somatic_diagnoses -> Nullable<Array<Nullable<Text>>>,
        somatic_health_assessed -> Nullable<Int2>,
        mental_health_assessed -> Nullable<Int2>,
        in_lar -> Nullable<Int2>,
        lar_medication -> Nullable<Int2>,
        individual_plan -> Nullable<Int2>,
        responsibility_group -> Nullable<Int2>,
        substances_given -> Bool,
        main_substance -> Nullable<Int2>,
        injected_30d -> Nullable<Int2>,
        overdose_12m -> Nullable<Int2>,
        injected_ever -> Nullable<Int2>,
        audit_score -> Nullable<Int2>,
        dudit_score -> Nullable<Int2>,
        self_rated_severity -> Nullable<Int2>,
        self_rated_life_situation -> Nullable<Int2>,
        housing -> Nullable<Int2>,
        lives_with -> Nullable<Int2>,
        children_under_18 -> Nullable<Int2>,
        occupation -> Nullable<Int2>,
    }
}

diesel::table! {
    completeness_snapshots (id) {
        id -> Int8,
        year -> Int2,
        period -> Text,
        release_id -> Nullable<Int8>,
        taken_on -> Date,
        min_cell -> Int2,
        counts -> Jsonb,
        cells -> Jsonb,
        audit -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    digest_days (day) {
        day -> Date,
        digests -> Int4,
        finished_at -> Timestamptz,
    }
}

diesel::table! {
    discharge_forms (form_id) {
        form_id -> Uuid,
        ending -> Nullable<Int2>,
        agreed_follow_up -> Nullable<Array<Nullable<Int2>>>,
        municipality_informed -> Nullable<Int2>,
        substances_given -> Bool,
        main_substance -> Nullable<Int2>,
        injected_30d -> Nullable<Int2>,
        overdose_12m -> Nullable<Int2>,
        housing -> Nullable<Int2>,
        occupation -> Nullable<Int2>,
        satisfaction -> Nullable<Int2>,
        contact_consent_1y -> Nullable<Int2>,
    }
}

diesel::table! {
    follow_up_forms (form_id) {
        form_id -> Uuid,
        outcome -> Nullable<Int2>,
        substances_given -> Bool,
        main_substance -> Nullable<Int2>,
        injected_30d -> Nullable<Int2>,
        overdose_12m -> Nullable<Int2>,
        housing -> Nullable<Int2>,
        occupation -> Nullable<Int2>,
        received_follow_up -> Nullable<Array<Nullable<Int2>>>,
        self_rated_life_situation -> Nullable<Int2>,
    }
}

diesel::table! {
    form_history (id) {
        id -> Int8,
        form_id -> Uuid,
        version -> Int4,
        action -> Text,
        changed_by -> Uuid,
        changed_at -> Timestamptz,
        changes -> Jsonb,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    form_substances (form_id, position) {
        form_id -> Uuid,
        position -> Int2,
        substance -> Nullable<Int2>,
        frequency_30d -> Nullable<Int2>,
        route -> Nullable<Int2>,
        debut_age -> Nullable<Int2>,
    }
}

diesel::table! {
    forms (id) {
        id -> Uuid,
        pathway_id -> Uuid,
        kind -> Text,
        unit_id -> Int8,
        event_date -> Nullable<Date>,
        status -> Text,
        version -> Int4,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_by -> Uuid,
        updated_at -> Timestamptz,
        completed_by -> Nullable<Uuid>,
        completed_at -> Nullable<Timestamptz>,
        reopened_by -> Nullable<Uuid>,
        reopened_at -> Nullable<Timestamptz>,
        reopen_reason -> Nullable<Text>,
        previous_date -> Nullable<Date>,
        previous_treatment_level -> Nullable<Int2>,
    }
}

diesel::table! {
    grants (id) {
        id -> Int8,
        user_id -> Uuid,
        role -> Text,
        node_id -> Int8,
        created_at -> Timestamptz,
        granted_by -> Nullable<Uuid>,
        reason -> Nullable<Text>,
        approved_by -> Nullable<Uuid>,
        valid_from -> Nullable<Timestamptz>,
        revoked_by -> Nullable<Uuid>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    import_errors (id) {
        id -> Int8,
        job_id -> Uuid,
        line -> Int4,
        field -> Text,
        code -> Text,
        message -> Text,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> Uuid,
        created_by -> Uuid,
        format -> Text,
        csv_kind -> Nullable<Text>,
        dry_run -> Bool,
        all_or_nothing -> Bool,
        status -> Text,
        total_lines -> Int4,
        next_line -> Int4,
        created_count -> Int4,
        updated_count -> Int4,
        unchanged_count -> Int4,
        rejected_count -> Int4,
        batch -> Nullable<Bytea>,
        claim -> Nullable<Uuid>,
        heartbeat_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        owner_nodes -> Array<Int8>,
    }
}

diesel::table! {
    import_keys (owner, kind, sender_key) {
        owner -> Uuid,
        kind -> Text,
        sender_key -> Text,
        target_id -> Uuid,
        content_hash -> Bytea,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    measurement_forms (form_id) {
        form_id -> Uuid,
        treatment_level -> Nullable<Int2>,
        treatment_plan -> Nullable<Int2>,
        crisis_plan -> Nullable<Int2>,
        benefit -> Nullable<Int2>,
        feedback_tool_used -> Nullable<Int2>,
        needs_followed_up -> Nullable<Int2>,
        substances_given -> Bool,
        main_substance -> Nullable<Int2>,
        injected_30d -> Nullable<Int2>,
        overdose_12m -> Nullable<Int2>,
        housing -> Nullable<Int2>,
        occupation -> Nullable<Int2>,
    }
}

diesel::table! {
    npr_counts (unit_id, year) {
        unit_id -> Int8,
        year -> Int2,
        pathways -> Int4,
        imported_by -> Uuid,
        imported_at -> Timestamptz,
    }
}

diesel::table! {
    oidc_clients (id) {
        id -> Int8,
        issuer -> Text,
        client_id -> Text,
        user_id -> Uuid,
        legal_entity_id -> Int8,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        revoked_by -> Nullable<Uuid>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    order_access_codes (order_id) {
        order_id -> Uuid,
        code_hash -> Bytea,
        failed_attempts -> Int2,
        created_at -> Timestamptz,
        spent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    order_status_history (id) {
        id -> Int8,
        order_id -> Uuid,
        from_status -> Nullable<Text>,
        to_status -> Text,
        changed_by -> Nullable<Uuid>,
        actor -> Text,
        reason -> Nullable<Text>,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    orders (id) {
        id -> Uuid,
        patient_id -> Uuid,
        pathway_id -> Uuid,
        unit_id -> Int8,
        form_id -> Nullable<Uuid>,
        questionnaire -> Text,
        status -> Text,
        remind_on -> Date,
        expires_on -> Date,
        attempt -> Int2,
        ordered_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        reminded_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
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
    outbox_messages (id) {
        id -> Int8,
        order_id -> Nullable<Uuid>,
        channel -> Text,
        purpose -> Text,
        body -> Text,
        status -> Text,
        attempts -> Int2,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        recipient -> Nullable<Text>,
        subject -> Nullable<Text>,
        sending_since -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        digest_user_id -> Nullable<Uuid>,
        digest_unit_id -> Nullable<Int8>,
        digest_day -> Nullable<Date>,
    }
}

diesel::table! {
    pathway_facts_dirty (txid, pathway_id) {
        txid -> Int8,
        pathway_id -> Uuid,
    }
}

diesel::table! {
    pathway_status_history (id) {
        id -> Int8,
        pathway_id -> Uuid,
        from_status -> Nullable<Int2>,
        to_status -> Int2,
        event -> Text,
        form_id -> Nullable<Uuid>,
        changed_by -> Uuid,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    pathway_transfers (id) {
        id -> Int8,
        pathway_id -> Uuid,
        from_unit_id -> Int8,
        to_unit_id -> Int8,
        transfer_date -> Date,
        created_by -> Uuid,
        created_at -> Timestamptz,
        status_at_transfer -> Nullable<Int2>,
        treatment_level_at_transfer -> Nullable<Int2>,
    }
}

diesel::table! {
    pathways (id) {
        id -> Uuid,
        patient_id -> Uuid,
        unit_id -> Int8,
        opened_unit_id -> Int8,
        start_date -> Date,
        treatment_level -> Int2,
        status -> Int2,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        anchor_date -> Nullable<Date>,
        last_form_date -> Nullable<Date>,
        discharge_date -> Nullable<Date>,
        discharge_ending -> Nullable<Int2>,
        discharge_contact_consent_1y -> Nullable<Int2>,
        follow_up_done -> Bool,
        patient_sex -> Int2,
        patient_birth_year -> Int2,
        baseline_unit_id -> Nullable<Int8>,
        baseline_date -> Nullable<Date>,
        baseline_somatic_health_assessed -> Nullable<Int2>,
        first_measurement_unit_id -> Nullable<Int8>,
        first_measurement_date -> Nullable<Date>,
        first_measurement_treatment_plan -> Nullable<Int2>,
        first_measurement_crisis_plan -> Nullable<Int2>,
        first_measurement_benefit -> Nullable<Int2>,
        discharge_unit_id -> Nullable<Int8>,
        discharge_agreed_follow_up -> Nullable<Array<Nullable<Int2>>>,
        follow_up_outcome -> Nullable<Int2>,
        current_treatment_level -> Nullable<Int2>,
        residence_code -> Nullable<Text>,
    }
}

diesel::table! {
    patients (id) {
        id -> Uuid,
        pseudonym -> Bytea,
        national_id_enc -> Bytea,
        sex -> Int2,
        birth_year -> Int2,
        registered_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    release_cells (release_id, measure, node_id, sex, age_group, outcome) {
        release_id -> Int8,
        measure -> Text,
        node_id -> Int8,
        sex -> Int2,
        age_group -> Int2,
        outcome -> Text,
        value -> Int4,
        status -> Text,
    }
}

diesel::table! {
    release_jobs (id) {
        id -> Uuid,
        year -> Int2,
        min_cell -> Nullable<Int2>,
        status -> Text,
        release_id -> Nullable<Int8>,
        problem -> Nullable<Text>,
        created_by -> Uuid,
        request_id -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        heartbeat_at -> Nullable<Timestamptz>,
        attempts -> Int2,
    }
}

diesel::table! {
    release_counts (release_id, row_number) {
        release_id -> Int8,
        row_number -> Int4,
        population -> Text,
        unit_id -> Int8,
        entity_id -> Nullable<Int8>,
        region_id -> Nullable<Int8>,
        sex -> Int2,
        age_group -> Int2,
        o1 -> Bool,
        o2 -> Bool,
        o3 -> Bool,
        n -> Int8,
        residence_kind -> Int2,
        residence_trust_id -> Nullable<Int8>,
    }
}

diesel::table! {
    releases (id) {
        id -> Int8,
        year -> Int2,
        min_cell -> Int2,
        status -> Text,
        previous_release_id -> Nullable<Int8>,
        cells -> Int4,
        published_cells -> Int4,
        primary_cells -> Int4,
        secondary_cells -> Int4,
        audit -> Jsonb,
        stats -> Jsonb,
        created_by -> Uuid,
        created_at -> Timestamptz,
        published_by -> Nullable<Uuid>,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    research_deliveries (id) {
        id -> Uuid,
        project_id -> Uuid,
        delivered_by -> Uuid,
        delivered_at -> Timestamptz,
        variables -> Array<Text>,
        period_from -> Date,
        period_to -> Date,
        row_count -> Int4,
        patient_count -> Int4,
        suppressed_rows -> Int4,
        recipients -> Array<Text>,
        files -> Jsonb,
        container_sha256 -> Text,
        risk -> Jsonb,
    }
}

diesel::table! {
    research_delivery_patients (delivery_id, patient_id) {
        delivery_id -> Uuid,
        patient_id -> Uuid,
        project_pseudonym -> Text,
    }
}

diesel::table! {
    research_projects (id) {
        id -> Uuid,
        title -> Text,
        approval_ref -> Text,
        legal_basis -> Text,
        recipient_org -> Text,
        recipient_contact -> Text,
        variables -> Array<Text>,
        period_from -> Date,
        period_to -> Date,
        approved_on -> Date,
        expires_on -> Date,
        recipient_keys -> Array<Text>,
        k -> Int2,
        dates -> Text,
        shift_days -> Nullable<Int2>,
        age_groups -> Bool,
        max_suppressed_percent -> Int2,
        created_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    research_reservation_notices (id) {
        id -> Int8,
        project_id -> Uuid,
        reservation_id -> Uuid,
        project_pseudonym -> Text,
        last_delivery_id -> Uuid,
        created_at -> Timestamptz,
        told_at -> Nullable<Timestamptz>,
        told_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    reservations (id) {
        id -> Uuid,
        pseudonym -> Bytea,
        received_date -> Date,
        letter_sent_at -> Nullable<Timestamptz>,
        letter_sent_by -> Nullable<Uuid>,
        created_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    user_identities (id) {
        id -> Int8,
        user_id -> Uuid,
        issuer -> Text,
        subject -> Nullable<Text>,
        pid_tag -> Nullable<Bytea>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        revoked_by -> Nullable<Uuid>,
        revoked_at -> Nullable<Timestamptz>,
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
        email -> Nullable<Text>,
    }
}

diesel::table! {
    residence_areas (code, valid_from) {
        code -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        name -> Text,
        successor -> Nullable<Text>,
    }
}

diesel::table! {
    catchment_areas (area_code, valid_from) {
        area_code -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        trust_id -> Int8,
    }
}

diesel::table! {
    populations (year, area_code, sex, age) {
        year -> Int2,
        area_code -> Text,
        sex -> Int2,
        age -> Int2,
        persons -> Int4,
        synthetic -> Bool,
    }
}

diesel::table! {
    dpop_proofs (key) {
        key -> Text,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(baseline_forms -> forms (form_id));
diesel::joinable!(completeness_snapshots -> releases (release_id));
diesel::joinable!(discharge_forms -> forms (form_id));
diesel::joinable!(follow_up_forms -> forms (form_id));
diesel::joinable!(form_history -> forms (form_id));
diesel::joinable!(form_history -> users (changed_by));
diesel::joinable!(form_substances -> forms (form_id));
diesel::joinable!(forms -> org_nodes (unit_id));
diesel::joinable!(forms -> pathways (pathway_id));
diesel::joinable!(grants -> org_nodes (node_id));
diesel::joinable!(import_errors -> import_jobs (job_id));
diesel::joinable!(import_jobs -> users (created_by));
diesel::joinable!(import_keys -> users (owner));
diesel::joinable!(measurement_forms -> forms (form_id));
diesel::joinable!(npr_counts -> org_nodes (unit_id));
diesel::joinable!(npr_counts -> users (imported_by));
diesel::joinable!(oidc_clients -> org_nodes (legal_entity_id));
diesel::joinable!(order_access_codes -> orders (order_id));
diesel::joinable!(order_status_history -> orders (order_id));
diesel::joinable!(order_status_history -> users (changed_by));
diesel::joinable!(orders -> forms (form_id));
diesel::joinable!(orders -> org_nodes (unit_id));
diesel::joinable!(orders -> pathways (pathway_id));
diesel::joinable!(orders -> patients (patient_id));
diesel::joinable!(orders -> users (ordered_by));
diesel::joinable!(outbox_messages -> orders (order_id));
diesel::joinable!(pathway_status_history -> pathways (pathway_id));
diesel::joinable!(pathway_status_history -> users (changed_by));
diesel::joinable!(pathway_transfers -> pathways (pathway_id));
diesel::joinable!(pathway_transfers -> users (created_by));
diesel::joinable!(pathways -> patients (patient_id));
diesel::joinable!(pathways -> users (created_by));
diesel::joinable!(patients -> users (registered_by));
diesel::joinable!(release_cells -> org_nodes (node_id));
diesel::joinable!(release_cells -> releases (release_id));
diesel::joinable!(release_counts -> releases (release_id));
diesel::joinable!(release_jobs -> releases (release_id));
diesel::joinable!(release_jobs -> users (created_by));
diesel::joinable!(research_deliveries -> research_projects (project_id));
diesel::joinable!(research_deliveries -> users (delivered_by));
diesel::joinable!(research_delivery_patients -> patients (patient_id));
diesel::joinable!(research_delivery_patients -> research_deliveries (delivery_id));
diesel::joinable!(research_projects -> users (created_by));
diesel::joinable!(research_reservation_notices -> research_deliveries (last_delivery_id));
diesel::joinable!(research_reservation_notices -> research_projects (project_id));
diesel::joinable!(research_reservation_notices -> reservations (reservation_id));
diesel::joinable!(research_reservation_notices -> users (told_by));

diesel::table! {
    service_facts (id) {
        id -> Int8,
        node_id -> Int8,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        treatment_levels -> Array<Text>,
        beds -> Nullable<Int4>,
        special_functions -> Array<Text>,
        municipality_number -> Text,
        municipality_name -> Text,
        address -> Text,
        postal_code -> Nullable<Text>,
        postal_place -> Nullable<Text>,
        phone -> Nullable<Text>,
        referral -> Text,
        demo -> Bool,
        recorded_by -> Uuid,
        recorded_at -> Timestamptz,
    }
}

diesel::joinable!(service_facts -> org_nodes (node_id));

diesel::allow_tables_to_appear_in_same_query!(
    catchment_areas,
    digest_days,
    dpop_proofs,
    populations,
    residence_areas,
    audit_log,
    baseline_forms,
    completeness_snapshots,
    discharge_forms,
    follow_up_forms,
    form_history,
    form_substances,
    forms,
    grants,
    import_errors,
    import_jobs,
    import_keys,
    measurement_forms,
    npr_counts,
    oidc_clients,
    order_access_codes,
    order_status_history,
    orders,
    org_links,
    org_nodes,
    outbox_messages,
    pathway_facts_dirty,
    pathway_status_history,
    pathway_transfers,
    pathways,
    patients,
    release_cells,
    release_counts,
    release_jobs,
    releases,
    research_deliveries,
    research_delivery_patients,
    research_projects,
    research_reservation_notices,
    reservations,
    service_facts,
    user_identities,
    users,
);
